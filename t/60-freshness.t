# t/60-freshness.t -- how long a stored response stays fresh (RFC 9111 4.2,
# RFC 9213, Surrogate-Control): s-maxage over max-age over Expires - Date, the
# Age the origin reports, invalid Expires and max-age, heuristic freshness from
# Last-Modified (and the site's heuristic-percent / heuristic-max), the
# targeted fields CDN-Cache-Control, Anyedge-Cache-Control and
# Surrogate-Control (obeyed, and not passed on to the client), Pragma:
# no-cache in a response, the site's negative-ttl for 404/410/5xx, and a
# response that expires being fetched again (fwd=stale).
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
    { host => 'no-heuristic.test', origin => $origin->{url},
      extra => { cache => { 'heuristic-percent' => 0 } } },
    { host => 'no-surrogate.test', origin => $origin->{url},
      extra => { cache => { 'surrogate-control' => 'false' } } },
    { host => 'negative.test', origin => $origin->{url},
      extra => { cache => { 'negative-ttl' => '{404: 30s, 410: 30s, 5xx: 0s}' } } },
]);
my %site = (port => $ae->{port}, host => 'example.test');

# Stored first, refetched at the end of the script once it has expired.
my $EXPIRING = origin_path('/expiring', cc => 'max-age=2');
my $expiring_stored_at;
subtest 'a response with max-age=2 is stored' => sub {
    store_object(%site, path => $EXPIRING);
    $expiring_stored_at = time;
};

# Test that neither the MISS nor the HIT passed the headers @names on.
sub headers_absent {
    my ($miss, $hit, @names) = @_;
    for my $name (@names) {
        ok(!exists $miss->{headers}{$name}, "MISS: no $name header");
        ok(!exists $hit->{headers}{$name}, "HIT: no $name header");
    }
}

my $in_an_hour = 'Expires: ' . http_date(time + 3600);

# Each case: a name, the site's host (default example.test), the origin's
# response parameters, the expected ttl range of the HIT that follows, and
# optionally min_age (of the HIT) and check (called with the MISS and HIT).
my @FRESH = (
    { name => 's-maxage beats max-age',
      params => [cc => 'max-age=600, s-maxage=30'], ttl => [26, 30] },
    { name => 's-maxage beats max-age=0',
      params => [cc => 'max-age=0, s-maxage=60'], ttl => [56, 60] },
    { name => 'max-age beats a later Expires',
      params => [cc => 'max-age=30', h => $in_an_hour], ttl => [26, 30] },
    { name => 'max-age beats a past Expires',
      params => [cc => 'max-age=60', h => 'Expires: ' . http_date(time - 3600)], ttl => [56, 60] },
    { name => 'Expires - Date',
      params => [cc => '', h => 'Expires: ' . http_date(time + 100)], ttl => [90, 100] },
    { name => 'the Age the origin reports is deducted',
      params => [cc => 'max-age=60', h => 'Age: 20'], ttl => [36, 40], min_age => 20 },
    { name => 'heuristic: 10% of Date - Last-Modified',
      params => [cc => '', lm => 10_000], ttl => [990, 1002] },
    { name => 'heuristic: capped by heuristic-max (1d)',
      params => [cc => '', lm => 100 * 86400], ttl => [86390, 86400] },
    { name => 'CDN-Cache-Control beats Cache-Control: no-store',
      params => [cc => 'no-store', h => 'CDN-Cache-Control: max-age=60'], ttl => [56, 60],
      check => sub {
          my ($miss, $hit) = @_;
          headers_absent($miss, $hit, 'cdn-cache-control');
          is($miss->{headers}{'cache-control'}, 'no-store', 'MISS: Cache-Control passed on');
          is($hit->{headers}{'cache-control'}, 'no-store', 'HIT: Cache-Control passed on');
      } },
    { name => 'Anyedge-Cache-Control beats CDN-Cache-Control: no-store',
      params => [cc => 'no-store', h => 'CDN-Cache-Control: no-store',
                 h => 'Anyedge-Cache-Control: max-age=60'], ttl => [56, 60],
      check => sub { headers_absent(@_, 'cdn-cache-control', 'anyedge-cache-control') } },
    { name => 'Surrogate-Control beats Cache-Control: no-store',
      params => [cc => 'no-store', h => 'Surrogate-Control: max-age=60'], ttl => [56, 60],
      check => sub { headers_absent(@_, 'surrogate-control') } },
    { name => 'Pragma: no-cache is ignored when there is Cache-Control',
      params => [cc => 'max-age=60', h => 'Pragma: no-cache'], ttl => [56, 60] },
    { name => 'negative-ttl: 404 without freshness information', host => 'negative.test',
      params => [status => 404, cc => ''], status => 404, ttl => [26, 30] },
    { name => 'negative-ttl: 410 without freshness information', host => 'negative.test',
      params => [status => 410, cc => ''], status => 410, ttl => [26, 30] },
);
my $serial = 0;
for my $case (@FRESH) {
    subtest "fresh: $case->{name}" => sub {
        my %s = (%site, host => $case->{host} // $site{host},
                 path => origin_path('/fresh/' . ++$serial, @{ $case->{params} }));
        my $status = $case->{status} // 200;
        my $miss = served_ok(http(%s), 'first request', status => $status, x_cache => 'MISS',
            cache_status => { fwd => 'uri-miss', 'fwd-status' => $status, stored => 1 });
        my $hit = served_ok(stored_ok(%s, origin => $origin), 'second request',
            status => $status, x_cache => 'HIT', body => $miss->{body},
            cache_status => { hit => 1, ttl => $case->{ttl} }, min_age => $case->{min_age});
        $case->{check}->($miss, $hit) if $case->{check};
    };
}

# Each case: a name, the host, and the origin's response parameters; the
# response must not be served from the cache without going to the origin.
my @NOT_FRESH = (
    { name => 'Expires: 0 (invalid: in the past)', params => [cc => '', h => 'Expires: 0'] },
    { name => 'max-age=abc (invalid)', params => [cc => 'max-age=abc'] },
    { name => 'no heuristic freshness with heuristic-percent: 0', host => 'no-heuristic.test',
      params => [cc => '', lm => 10 * 86400] },
    { name => 'no Last-Modified, no heuristic freshness', params => [cc => ''] },
    { name => 'Anyedge-Cache-Control: no-store beats CDN-Cache-Control',
      params => [cc => 'max-age=60', h => 'CDN-Cache-Control: max-age=60',
                 h => 'Anyedge-Cache-Control: no-store'] },
    { name => 'CDN-Cache-Control: no-store beats Cache-Control',
      params => [cc => 'max-age=60', h => 'CDN-Cache-Control: no-store'] },
    { name => 'Surrogate-Control is not obeyed with surrogate-control: false',
      host => 'no-surrogate.test', params => [cc => 'no-store', h => 'Surrogate-Control: max-age=60'] },
    { name => 'Pragma: no-cache without Cache-Control',
      params => [cc => '', h => 'Pragma: no-cache', h => $in_an_hour] },
    { name => '404 without negative-ttl', params => [status => 404, cc => ''], status => 404 },
    { name => '5xx with negative-ttl 0s', host => 'negative.test',
      params => [status => 503, cc => ''], status => 503 },
);
for my $case (@NOT_FRESH) {
    subtest "not fresh: $case->{name}" => sub {
        my %s = (%site, host => $case->{host} // $site{host},
                 path => origin_path('/not-fresh/' . ++$serial, @{ $case->{params} }));
        my $status = $case->{status} // 200;
        # (Whether such a response is kept, to be revalidated, is not specified.)
        served_ok(http(%s), 'first request', status => $status, x_cache => 'MISS',
            cache_status => { fwd => 'uri-miss', 'fwd-status' => $status,
                              stored => MAYBE, detail => MAYBE });
        served_ok(not_stored_ok(%s, origin => $origin), 'second request', status => $status);
    };
}

subtest 'a response with max-age=2 is fetched again once expired' => sub {
    my $wait = $expiring_stored_at + 3 - time;
    sleep $wait if $wait > 0;
    my $count = origin_count($origin, $EXPIRING);
    served_ok(http(%site, path => $EXPIRING), 'after 3s', x_cache => 'MISS',
        cache_status => { fwd => 'stale', 'fwd-status' => 200, stored => 1 },
        body => "hello from demo origin: $EXPIRING\n");
    is(origin_count($origin, $EXPIRING), $count + 1, 'origin contacted');
};

done_testing;
