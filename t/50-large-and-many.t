# t/50-large-and-many.t -- a 16 MiB object (with Content-Length and chunked)
# is stored and served intact, a miss streams (the first bytes do not wait for
# the last), and 1,000 distinct objects are each fetched from the origin
# exactly once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use List::Util qw(min);
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ]);
my %site = (port => $ae->{port}, host => 'example.test');

my $BIG = 16 * 1024 * 1024;
for my $path ("/big?size=$BIG", "/big?size=$BIG&chunked=1") {
    subtest $path => sub {
        my ($miss, $hit) = miss_then_hit(%site, origin => $origin, path => $path);
        body_is($miss->{body}, expected_body($BIG), 'MISS body is the origin body');
        body_is($hit->{body}, expected_body($BIG), 'HIT body is the origin body');
    };
}

subtest 'a miss streams to the client as it arrives' => sub {
    # the origin sends the head and half the body, pauses 1.5s, then sends the rest
    my $url = "http://127.0.0.1:$ae->{port}/stream?size=200000&body-delay=1.5";
    my ($first_byte, $total) = split ' ', `curl -sS -o /dev/null -w '%{time_starttransfer} %{time_total}' -H 'Host: example.test' '$url'`;
    cmp_ok($total, '>=', 1.4, 'the whole response took the origin pause');
    cmp_ok($first_byte, '<', 1.0, 'the first bytes came before the pause ended');
    my ($hit) = wait_for_hit(%site, path => '/stream?size=200000&body-delay=1.5');
    body_is($hit->{body}, expected_body(200000), 'and the streamed object was stored whole');
};

# Test that every response is a 200 with the origin's body and the given
# X-Cache value; show the first few that are not.
sub all_served {
    my ($paths, $responses, $x_cache) = @_;
    my @bad = grep {
        my $r = $responses->[$_];
        !($r->{status} == 200 && ($r->{headers}{'x-cache'} // '') eq $x_cache
          && $r->{body} eq "hello from demo origin: $paths->[$_]\n");
    } 0 .. $#$paths;
    is(scalar @bad, 0, scalar(@$paths) . " responses: 200, X-Cache: $x_cache, origin body")
        or diag(explain([ map { +{ path => $paths->[$_], %{ $responses->[$_] } } }
                          @bad[0 .. min(2, $#bad)] ]));
}

subtest '1,000 distinct objects' => sub {
    my @paths = map { "/many/$_?n=$_" } 1 .. 1000;
    all_served(\@paths, [ http_batch(%site, paths => \@paths) ], 'MISS');
    ok(settle_cache(%site), 'cache settled');
    all_served(\@paths, [ http_batch(%site, paths => \@paths) ], 'HIT');

    my %count;
    $count{ $_->[1] }++ for origin_requests($origin);
    my @wrong = grep { ($count{$_} // 0) != 1 } @paths;
    is(scalar @wrong, 0, 'origin contacted once per object')
        or diag(explain({ map { ($_ => $count{$_} // 0) } @wrong[0 .. min(2, $#wrong)] }));
};

done_testing;
