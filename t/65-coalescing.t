# t/65-coalescing.t -- concurrent requests for the same uncached URL share one
# origin fetch (request collapsing, Cache-Status "collapsed"): every client
# gets the whole body, the waiters are streamed to while the fetch is still
# running, an origin failure fails all of them without harming the daemon, and
# when the response turns out not to be storable the waiters fetch for
# themselves.
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

# Test that &$check holds for every response (in $_); show the first that
# does not.
sub all_ok {
    my ($responses, $check, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @bad = grep { !$check->() } @$responses;
    ok(!@bad, sprintf('%s (%d of %d)', $name, @$responses - @bad, scalar @$responses)) or do {
        my $r = $bad[0];
        diag(sprintf "first exception: status %d, X-Cache %s, Cache-Status %s, %d body bytes, "
             . "curl exit %d, first byte after %.3fs, done after %.3fs",
             $r->{status}, $r->{headers}{'x-cache'} // '(none)', $r->{headers}{'cache-status'} // '(none)',
             length $r->{body}, $r->{curl_exit}, $r->{first_byte}, $r->{time});
    };
}

sub has_collapsed { (cache_status($_[0]) // {})->{collapsed} }

subtest '20 concurrent requests for an uncached URL: one origin fetch' => sub {
    my $path = origin_path('/collapse/miss', delay => 1, size => 200_000);
    my @r = http_parallel(%site, path => $path, count => 20);
    my $body = expected_body(200_000);
    all_ok(\@r, sub { $_->{status} == 200 && $_->{body} eq $body }, 'status 200 and the whole body');
    all_ok(\@r, sub { ($_->{headers}{'x-cache'} // '') eq 'MISS' }, 'X-Cache: MISS');
    for my $r (@r) {
        cache_status_is($r, { fwd => 'uri-miss', 'fwd-status' => 200, stored => 1, collapsed => MAYBE },
                        'Cache-Status: ' . ($r->{headers}{'cache-status'} // '(none)'));
    }
    cmp_ok(scalar(grep { has_collapsed($_) } @r), '>=', 19, 'at least 19 say collapsed');
    is(origin_count($origin, $path), 1, 'one origin request');
    served_ok(stored_ok(%site, origin => $origin, path => $path), 'then', x_cache => 'HIT', body => $body);
};

subtest 'collapsed requests are streamed to while the origin sends' => sub {
    # The origin sends the head and half the body, pauses 2s, sends the rest.
    my $path = origin_path('/collapse/stream', size => 200_000, 'body-delay' => 2);
    my @r = http_parallel(%site, path => $path, count => 10);
    my $body = expected_body(200_000);
    all_ok(\@r, sub { $_->{status} == 200 && $_->{body} eq $body }, 'status 200 and the whole body');
    all_ok(\@r, sub { $_->{first_byte} < 1.5 }, 'first byte within 1.5s');
    my $first_end = min(map { $_->{started} + $_->{time} } @r);
    my $first_start = min(map { $_->{started} } @r);
    cmp_ok($first_end - $first_start, '>=', 1.9, 'the responses took the origin pause');
    all_ok(\@r, sub { $_->{started} + $_->{first_byte} < $first_end - 1 },
           'each first byte came at least 1s before the first response ended');
    is(origin_count($origin, $path), 1, 'one origin request');
};

subtest 'the origin fails: every waiting client gets 502' => sub {
    my $path = origin_path('/collapse/reset', delay => 1, break => 'reset');
    my @r = http_parallel(%site, path => $path, count => 10);
    all_ok(\@r, sub { $_->{status} == 502 }, 'status 502');
    my $count = origin_count($origin, $path);
    ok($count >= 1 && $count <= 10, "origin contacted 1 to 10 times ($count)");
    ok(anyedge_running($ae), 'daemon still running');
    is(http(%site, path => '/collapse/after-reset')->{status}, 200, 'and serving');
};

subtest 'the response is not storable: waiters fetch for themselves' => sub {
    my $path = origin_path('/collapse/no-store', delay => 1, cc => 'no-store');
    my @r = http_parallel(%site, path => $path, count => 10);
    all_ok(\@r, sub { $_->{status} == 200 && $_->{body} eq "hello from demo origin: $path\n" },
           'status 200 and the body');
    all_ok(\@r, sub { ($_->{headers}{'x-cache'} // '') eq 'MISS' }, 'X-Cache: MISS');
    my $count = origin_count($origin, $path);
    ok($count >= 2 && $count <= 10, "origin contacted 2 to 10 times ($count)");
};

done_testing;
