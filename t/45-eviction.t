# t/45-eviction.t -- eviction keeps what is used: in a full store, the objects that go are the least
# recently used of those sampled (the access of a hit reaches the store in batches, within a second).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;
use Time::HiRes qw(sleep);

my $origin = start_origin();
my $ae = start_anyedge(cache_size => '4M', sites => [ { host => 'example.test', origin => $origin->{url} } ]);
my %site = (port => $ae->{port}, host => 'example.test');
my $SIZE = 300_000; # about 13 fit in the 4 MiB store
my $hot = "/hot?size=$SIZE";

store_object(%site, path => "/cold/$_?size=$SIZE") for 1 .. 10;
store_object(%site, path => $hot);
sleep 1.2; # the cold objects' time is now older than any use of the hot one

for my $n (1 .. 6) {
    is(http(%site, path => $hot)->{headers}{'x-cache'}, 'HIT', "before insert $n: the hot object is a HIT");
    sleep 1.2; # its use reaches the store
    store_object(%site, path => "/new/$n?size=$SIZE");
}
is(http(%site, path => $hot)->{headers}{'x-cache'}, 'HIT', 'the hot object survived every eviction');
like(slurp($ae->{stderr_log}), qr/cache full: evicted/, 'evictions happened');
my $cold_left = grep { http(%site, path => "/cold/$_?size=$SIZE")->{headers}{'x-cache'} eq 'HIT' } 1 .. 10;
cmp_ok($cold_left, '<', 10, "cold objects made room ($cold_left of 10 left)");
is(origin_count($origin, $hot), 1, 'the hot object was fetched once');

done_testing;
