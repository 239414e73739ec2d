# t/61-request-directives.t -- what a client's Cache-Control (and Pragma)
# does to a stored response (RFC 9111 5.2.1, 5.4): max-age=0, no-cache, Pragma:
# no-cache and min-fresh send the request to the origin (fwd=request), unless
# the site sets ignore-client-no-cache; max-stale accepts an expired copy (a
# HIT with a negative ttl); no-store keeps the response out of the cache; and
# only-if-cached answers from the cache or with 504, never from the origin.
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
    { host => 'ignore.test', origin => $origin->{url},
      extra => { cache => { 'ignore-client-no-cache' => 'true' } } },
]);
my %site = (port => $ae->{port}, host => 'example.test');

# Each case: a name, and request headers with which a request for an expired
# object (max-age=2, requested 3s after it was stored) is a HIT; or, for
# only-if-cached without max-stale, is answered 504.
my @ON_EXPIRED = (
    [ 'max-stale=100' => ['Cache-Control: max-stale=100'], 200 ],
    [ 'max-stale without a value' => ['Cache-Control: max-stale'], 200 ],
    [ 'only-if-cached' => ['Cache-Control: only-if-cached'], 504 ],
);
# Stored now, used at the end of the script once expired.
my $serial = 0;
my %expiring = map { ($_->[0] => origin_path('/expired/' . ++$serial, cc => 'max-age=2')) } @ON_EXPIRED;
my $stored_at;
subtest 'responses with max-age=2 are stored' => sub {
    store_object(%site, path => $_) for sort values %expiring;
    $stored_at = time;
};

# Each case: a name, and request headers with which a request for a fresh
# object (max-age=60) goes to the origin.
my @REFETCH = (
    [ 'max-age=0' => ['Cache-Control: max-age=0'] ],
    [ 'no-cache' => ['Cache-Control: no-cache'] ],
    [ 'Pragma: no-cache' => ['Pragma: no-cache'] ],
    [ 'min-fresh=100 (more than is left)' => ['Cache-Control: min-fresh=100'] ],
);
for my $case (@REFETCH) {
    my ($name, $headers) = @$case;
    subtest "request $name: fetched from the origin" => sub {
        my $path = '/refetch/' . ++$serial;
        store_object(%site, path => $path);
        served_ok(http(%site, path => $path, headers => $headers), $name, x_cache => 'MISS',
            cache_status => { fwd => 'request', 'fwd-status' => 200, stored => 1 });
        is(origin_count($origin, $path), 2, 'origin contacted again');
    };
}

# Each case: a name, request headers, and the host of the site: the request
# for a fresh object (max-age=60) is a HIT.
my @USE_STORED = (
    [ 'max-age=3600' => ['Cache-Control: max-age=3600'] ],
    [ 'min-fresh=10 (less than is left)' => ['Cache-Control: min-fresh=10'] ],
    [ 'Pragma: no-cache with Cache-Control (Pragma ignored)' =>
      ['Pragma: no-cache', 'Cache-Control: max-age=3600'] ],
    [ 'only-if-cached' => ['Cache-Control: only-if-cached'] ],
    (map { +[ "$_->[0] with ignore-client-no-cache" => $_->[1], 'ignore.test' ] }
         grep { $_->[0] !~ /min-fresh/ } @REFETCH),
);
for my $case (@USE_STORED) {
    my ($name, $headers, $host) = @$case;
    subtest "request $name: a HIT" => sub {
        my %s = (%site, host => $host // $site{host}, path => '/use-stored/' . ++$serial);
        my $miss = store_object(%s);
        served_ok(http(%s, headers => $headers), $name, x_cache => 'HIT',
            cache_status => { hit => 1, ttl => [56, 60] }, body => $miss->{body});
        is(origin_count($origin, $s{path}), 1, 'origin not contacted again');
    };
}

subtest 'immutable (RFC 8246): a reload of a fresh object is still a HIT' => sub {
    my %s = (%site, path => origin_path('/immutable/' . ++$serial, cc => 'max-age=60, immutable'));
    my $miss = store_object(%s);
    for my $reload (['Cache-Control: no-cache'], ['Cache-Control: max-age=0'], ['Pragma: no-cache']) {
        served_ok(http(%s, headers => $reload), "@$reload", x_cache => 'HIT', body => $miss->{body});
    }
    is(origin_count($origin, $s{path}), 1, 'origin not contacted again');
};

subtest 'request no-store: the response is not stored' => sub {
    my $path = '/request-no-store';
    served_ok(http(%site, path => $path, headers => ['Cache-Control: no-store']), 'no-store',
        x_cache => 'MISS',
        cache_status => { fwd => 'uri-miss', 'fwd-status' => 200, stored => undef, detail => MAYBE });
    served_ok(not_stored_ok(%site, origin => $origin, path => $path), 'without no-store',
        x_cache => 'MISS', cache_status => { fwd => 'uri-miss', 'fwd-status' => 200, stored => 1 });
};

subtest 'only-if-cached, not cached: 504 without contacting the origin' => sub {
    my $path = '/only-if-cached-uncached';
    my $r = http(%site, path => $path, headers => ['Cache-Control: only-if-cached']);
    is($r->{status}, 504, 'status 504');
    is(origin_count($origin, $path), 0, 'origin not contacted');
};

for my $case (@ON_EXPIRED) {
    my ($name, $headers, $status) = @$case;
    subtest "request $name on an expired object" => sub {
        my $wait = $stored_at + 3 - time;
        sleep $wait if $wait > 0;
        my $path = $expiring{$name};
        my $r = http(%site, path => $path, headers => $headers);
        if ($status == 200) {
            served_ok($r, $name, x_cache => 'HIT', cache_status => { hit => 1, ttl => [-10, -1] },
                      body => "hello from demo origin: $path\n");
        } else {
            is($r->{status}, $status, "status $status");
        }
        is(origin_count($origin, $path), 1, 'origin not contacted');
        served_ok(http(%site, path => $path), 'then without it', x_cache => 'MISS',
            cache_status => { fwd => 'stale', 'fwd-status' => 200, stored => 1 });
    };
}

done_testing;
