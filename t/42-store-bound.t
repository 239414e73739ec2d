# t/42-store-bound.t -- the store stays within cache.size: once it is full, objects are evicted to
# make room, every client still gets its response, and new objects are stored. An object larger
# than cache.max-object-size, or than a quarter of the store, passes through uncached.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

my $SIZE = 4 * 1024 * 1024;
my $origin = start_origin();
my $ae = start_anyedge(cache_size => '4M', sites => [ { host => 'example.test', origin => $origin->{url} } ]);
my %site = (port => $ae->{port}, host => 'example.test');

# 40 objects of 300 KiB: three times what the store can hold.
my @paths = map { "/fill/$_?size=307200" } 1 .. 40;
for my $path (@paths) {
    my $r = http(%site, path => $path);
    is($r->{status}, 200, "$path: served") or last;
    body_is($r->{body}, expected_body(307200), "$path: whole body");
    ok(settle_cache(%site), 'cache settled') or last;
}

my ($last) = wait_for_hit(%site, path => $paths[-1]);
is($last->{headers}{'x-cache'}, 'HIT', 'the newest object was stored after evictions');
body_is($last->{body}, expected_body(307200), 'and is served intact');
like(slurp($ae->{stderr_log}), qr/cache full: evicted \d+ objects/, 'eviction was logged');
cmp_ok(-s "$ae->{cache_path}/data.mdb", '<=', $SIZE, 'the store file is within cache.size');
for my $path ('/too-big?size=2097152', '/too-big?size=2097152&chunked=1') {
    my $r = http(%site, path => $path);
    body_is($r->{body}, expected_body(2097152), "$path: served whole");
    ok(settle_cache(%site), 'cache settled');
    is(http(%site, path => $path)->{headers}{'x-cache'}, 'MISS', "$path: not stored");
}
like(http(%site, path => '/too-big?size=2097152&again=1')->{headers}{'cache-status'}, qr/detail=too-big/,
    'Cache-Status says why, when the length is known up front');
ok(anyedge_running($ae), 'the daemon is still running');

subtest 'cache.max-object-size' => sub {
    my $small = start_anyedge(cache_size => '64M',
        sites => [ { host => 'example.test', origin => $origin->{url} } ],
        max_object_size => '100K');
    my %s = (port => $small->{port}, host => 'example.test');
    for my $case ([ '/limit?size=102400' => 'HIT' ], [ '/limit?size=102401' => 'MISS' ], [ '/limit?size=102401&chunked=1' => 'MISS' ]) {
        my ($path, $second) = @$case;
        body_is(http(%s, path => $path)->{body}, expected_body($path =~ /size=(\d+)/), "$path: served whole");
        ok(settle_cache(%s), 'cache settled');
        is(http(%s, path => $path)->{headers}{'x-cache'}, $second, "$path: then $second");
    }
};

done_testing;
