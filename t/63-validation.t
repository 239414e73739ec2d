# t/63-validation.t -- conditional requests (RFC 9111 4.3, RFC 9110 13):
# an expired response with an ETag or Last-Modified is revalidated with
# If-None-Match / If-Modified-Since; the origin's 304 refreshes it (its headers
# replace the stored ones, the stored body is served: X-Cache REVALIDATED), and
# one without validators is fetched again in full.  Clients' own conditionals
# on a fresh stored response are answered by the cache: 304 or 200, with
# If-None-Match taking precedence over If-Modified-Since.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;
use Time::HiRes qw(sleep time);

my $origin = start_origin();
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ]);
my %site = (port => $ae->{port}, host => 'example.test');

# Expire 2s after they are stored.  The 304 for ETAG brings new X-Version and
# Cache-Control values.
my $ETAG = origin_path('/validate/etag', etag => '"v1"', cc => 'max-age=2', counter => 1,
                       h => 'X-Version: 1', h304 => 'X-Version: 2', h304 => 'Cache-Control: max-age=60');
my $LAST_MODIFIED = origin_path('/validate/last-modified', lm => 3600, cc => 'max-age=2', counter => 1);
my $NO_VALIDATOR = origin_path('/validate/none', cc => 'max-age=2', counter => 1);
# Stays fresh: for the clients' conditional requests.
my $FRESH = origin_path('/conditional', etag => '"c1"', lm => 3600);

my (%stored, $stored_at);
subtest 'responses are stored' => sub {
    $stored{$_} = store_object(%site, path => $_) for $ETAG, $LAST_MODIFIED, $NO_VALIDATOR, $FRESH;
    $stored_at = time;
    is($stored{$ETAG}{headers}{'x-version'}, '1', 'X-Version of the first response');
};

# --- clients' conditional requests, answered from the cache -------------------

my $fresh_last_modified = $stored{$FRESH}{headers}{'last-modified'} // '';
my $before_last_modified = http_date(time - 2 * 86400);

# Each case: a name, the method, request headers, and the expected status.
my @CONDITIONAL = (
    [ 'If-None-Match with the ETag' => GET => ['If-None-Match: "c1"'], 304 ],
    [ 'If-None-Match with the weak ETag' => GET => ['If-None-Match: W/"c1"'], 304 ],
    [ 'If-None-Match with a list holding the ETag' => GET => ['If-None-Match: "x", "c1"'], 304 ],
    [ 'If-None-Match with another ETag' => GET => ['If-None-Match: "c2"'], 200 ],
    [ 'If-None-Match: *' => GET => ['If-None-Match: *'], 304 ],
    [ 'If-Modified-Since now' => GET => ['If-Modified-Since: ' . http_date(time)], 304 ],
    [ 'If-Modified-Since the Last-Modified' => GET => ["If-Modified-Since: $fresh_last_modified"], 304 ],
    [ 'If-Modified-Since before the Last-Modified' => GET => ["If-Modified-Since: $before_last_modified"], 200 ],
    [ 'If-None-Match not matching, If-Modified-Since matching' => GET =>
      ['If-None-Match: "c2"', 'If-Modified-Since: ' . http_date(time)], 200 ],
    [ 'HEAD with If-None-Match with the ETag' => HEAD => ['If-None-Match: "c1"'], 304 ],
);
for my $case (@CONDITIONAL) {
    my ($name, $method, $headers, $status) = @$case;
    subtest "$name: $status from the cache" => sub {
        my $r = served_ok(http(%site, path => $FRESH, method => $method, headers => $headers), $name,
            status => $status, x_cache => 'HIT', cache_status => { hit => 1, ttl => [50, 60] },
            body => $status == 304 || $method eq 'HEAD' ? '' : $stored{$FRESH}{body});
        is($r->{headers}{etag}, '"c1"', 'ETag');
        is(origin_count($origin, $FRESH), 1, 'origin not contacted');
    };
}

# --- expired responses ----------------------------------------------------------

# Wait until the responses stored with max-age=2 have expired.
sub wait_expired {
    my $wait = $stored_at + 3 - time;
    sleep $wait if $wait > 0;
}

subtest 'expired, with an ETag: revalidated with If-None-Match' => sub {
    wait_expired();
    my $r = served_ok(http(%site, path => $ETAG), 'after expiry', x_cache => 'REVALIDATED',
        cache_status => { fwd => 'stale', 'fwd-status' => 304, stored => 1 },
        body => "hello from demo origin: $ETAG\nserved=1\n");
    is($r->{headers}{etag}, '"v1"', 'ETag');
    is($r->{headers}{'x-version'}, '2', 'X-Version from the 304');
    is($r->{headers}{'cache-control'}, 'max-age=60', 'Cache-Control from the 304');
    is(origin_count($origin, $ETAG), 2, 'origin contacted once more');
    is(origin_conditional_count($origin, $ETAG), 1, 'with a conditional request');
    is_deeply((origin_requests_for($origin, $ETAG))[-1][2], { inm => '"v1"' },
              'If-None-Match: "v1" (and no If-Modified-Since)');

    my $hit = served_ok(stored_ok(%site, origin => $origin, path => $ETAG), 'then', x_cache => 'HIT',
        cache_status => { hit => 1, ttl => [58, 60] }, body => "hello from demo origin: $ETAG\nserved=1\n");
    is($hit->{headers}{'x-version'}, '2', 'the HIT has the X-Version of the 304');
    is($hit->{headers}{'cache-control'}, 'max-age=60', 'and its Cache-Control');
};

subtest 'expired, with Last-Modified: revalidated with If-Modified-Since' => sub {
    wait_expired();
    my $last_modified = $stored{$LAST_MODIFIED}{headers}{'last-modified'};
    served_ok(http(%site, path => $LAST_MODIFIED), 'after expiry', x_cache => 'REVALIDATED',
        cache_status => { fwd => 'stale', 'fwd-status' => 304, stored => 1 },
        body => "hello from demo origin: $LAST_MODIFIED\nserved=1\n");
    is(origin_count($origin, $LAST_MODIFIED), 2, 'origin contacted once more');
    is(origin_conditional_count($origin, $LAST_MODIFIED), 1, 'with a conditional request');
    is_deeply((origin_requests_for($origin, $LAST_MODIFIED))[-1][2], { ims => $last_modified },
              'If-Modified-Since: the Last-Modified');
    # The 304 repeats max-age=2: fresh again for (almost) 2s.
    served_ok(stored_ok(%site, origin => $origin, path => $LAST_MODIFIED), 'then', x_cache => 'HIT',
        cache_status => { hit => 1, ttl => [1, 2] }, body => "hello from demo origin: $LAST_MODIFIED\nserved=1\n");
};

subtest 'expired, without validators: fetched again' => sub {
    wait_expired();
    served_ok(http(%site, path => $NO_VALIDATOR), 'after expiry', x_cache => 'MISS',
        cache_status => { fwd => 'stale', 'fwd-status' => 200, stored => 1 },
        body => "hello from demo origin: $NO_VALIDATOR\nserved=2\n");
    is(origin_conditional_count($origin, $NO_VALIDATOR), 0, 'with an unconditional request');
    served_ok(stored_ok(%site, origin => $origin, path => $NO_VALIDATOR), 'then', x_cache => 'HIT',
        body => "hello from demo origin: $NO_VALIDATOR\nserved=2\n");
};

done_testing;
