# t/66-stale.t -- serving stale responses (RFC 5861, RFC 9111 4.2.4):
# stale-while-revalidate serves the expired copy at once (X-Cache STALE) and
# refreshes it in the background, once, and only within its window;
# stale-if-error, or the site's grace, serves the expired copy when the origin
# answers 5xx or cannot be reached; without either, or with must-revalidate,
# the client gets the error.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;
use Time::HiRes qw(sleep time);

my $origin = start_origin();
my $ae = start_anyedge(sites => [
    { host => 'example.test', origin => $origin->{url} },
    { host => 'grace.test', origin => $origin->{url}, extra => { cache => { grace => '60s' } } },
]);
my %site = (port => $ae->{port}, host => 'example.test');

# All stored first, then used once expired.  The background refresh of SWR
# takes 0.3s at the origin; the refreshed copy, whose age counts that delay,
# stays fresh for 2s or more, long enough to be seen as a HIT.
my $SWR = origin_path('/stale/swr', cc => 'max-age=3, stale-while-revalidate=30', counter => 1,
                      'slow-after' => 1, slow => 0.3);
my $SWR_WINDOW = origin_path('/stale/swr-window', cc => 'max-age=1, stale-while-revalidate=1', counter => 1);

# Each case: a name, the host, the response's Cache-Control, how the origin
# fails from the second request on (fail=), and whether the stale copy is
# served then.
my @ON_ERROR = (
    [ 'stale-if-error, origin answers 503' => 'example.test', 'max-age=2, stale-if-error=60', 503, 1 ],
    [ 'stale-if-error, origin resets' => 'example.test', 'max-age=2, stale-if-error=60', 'reset', 1 ],
    [ 'grace 60s, origin answers 503' => 'grace.test', 'max-age=2', 503, 1 ],
    [ 'grace 60s, origin resets' => 'grace.test', 'max-age=2', 'reset', 1 ],
    [ 'neither, origin answers 503' => 'example.test', 'max-age=2', 503, 0 ],
    [ 'neither, origin resets' => 'example.test', 'max-age=2', 'reset', 0 ],
    [ 'must-revalidate and stale-if-error, origin answers 503' => 'example.test',
      'max-age=2, must-revalidate, stale-if-error=60', 503, 0 ],
    [ 'must-revalidate and stale-if-error, origin resets' => 'example.test',
      'max-age=2, must-revalidate, stale-if-error=60', 'reset', 0 ],
    [ 'must-revalidate and grace, origin answers 503' => 'grace.test', 'max-age=2, must-revalidate', 503, 0 ],
    [ 'proxy-revalidate and grace, origin answers 503' => 'grace.test', 'max-age=2, proxy-revalidate', 503, 0 ],
    [ 's-maxage (implies proxy-revalidate) and grace, origin answers 503' => 'grace.test', 's-maxage=2', 503, 0 ],
);
my $serial = 0;
my %error_path = map {
    ($_->[0] => origin_path('/stale/error/' . ++$serial, cc => $_->[2], 'fail-after' => 1, fail => $_->[3]))
} @ON_ERROR;

my $stored_at;
subtest 'responses are stored' => sub {
    store_object(%site, path => $_) for $SWR, $SWR_WINDOW;
    store_object(%site, host => $_->[1], path => $error_path{ $_->[0] }) for @ON_ERROR;
    $stored_at = time;
};

# Wait until everything stored has expired.
sub wait_expired {
    my $wait = $stored_at + 3 - time;
    sleep $wait if $wait > 0;
}

subtest 'stale-while-revalidate: served stale at once, refreshed once in the background' => sub {
    wait_expired();
    sleep 1; # its max-age is 3
    my $old_body = "hello from demo origin: $SWR\nserved=1\n";
    my @stale = http_batch(%site, paths => [($SWR) x 5]);
    for my $n (1 .. @stale) {
        my $r = served_ok($stale[$n - 1], "request $n", x_cache => 'STALE', body => $old_body,
            cache_status => { hit => 1, ttl => [-10, -1], detail => 'stale-while-revalidate' }, min_age => 2);
        cmp_ok($r->{time}, '<', 0.25, "request $n: answered at once, not after the origin's 0.3s");
    }
    my $refreshed;
    ok(wait_until(5, sub {
        $refreshed = http(%site, path => $SWR);
        ($refreshed->{headers}{'x-cache'} // '') eq 'HIT';
    }), 'a HIT within 5s');
    served_ok($refreshed, 'the HIT', x_cache => 'HIT', body => "hello from demo origin: $SWR\nserved=2\n",
              cache_status => { hit => 1, ttl => [1, 3] });
    is(origin_count($origin, $SWR), 2, 'one background refresh');
};

subtest 'stale-while-revalidate window passed: fetched before answering' => sub {
    wait_expired();
    served_ok(http(%site, path => $SWR_WINDOW), 'after the window', x_cache => 'MISS',
        cache_status => { fwd => 'stale', 'fwd-status' => 200, stored => 1 },
        body => "hello from demo origin: $SWR_WINDOW\nserved=2\n");
    is(origin_count($origin, $SWR_WINDOW), 2, 'origin contacted');
};

for my $case (@ON_ERROR) {
    my ($name, $host, $cc, $fail, $served_stale) = @$case;
    subtest $name => sub {
        wait_expired();
        my $path = $error_path{$name};
        my $r = http(%site, host => $host, path => $path);
        if ($served_stale) {
            served_ok($r, 'stale copy', x_cache => 'STALE', body => "hello from demo origin: $path\n",
                min_age => 2, cache_status => { fwd => 'stale', detail => 'stale-if-error',
                                                'fwd-status' => $fail eq 'reset' ? undef : $fail });
        } elsif ($fail eq 'reset') {
            is($r->{status}, 502, 'status 502');
            unlike($r->{body}, qr/hello from demo origin/, 'not the stale body');
        } else {
            served_ok($r, "the origin's error", status => 503, x_cache => 'MISS',
                cache_status => { fwd => 'stale', 'fwd-status' => 503, stored => undef, detail => MAYBE },
                body => "demo-origin: failing with status 503\n");
        }
        # (A GET whose connection was reset may be retried once.)
        my $count = origin_count($origin, $path);
        ok($count == 2 || ($fail eq 'reset' && $count == 3), "origin contacted again ($count requests)");
    };
}

done_testing;
