# t/62-storage-rules.t -- which responses may be stored, and what of them
# (RFC 9111 3, 3.1, 3.5, 5.2.2): responses to requests with Authorization
# (stored only with public, s-maxage or must-revalidate, yet always passed),
# Set-Cookie (not stored, or with the site's set-cookie: strip stored without
# it), no-cache="FIELD" and private="FIELD" (stored without FIELD), hop-by-hop
# response headers (never passed on), Vary: * (never reused) and a 206 from
# the origin (passed through, not stored).  Unsafe methods: t/67.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [
    { host => 'example.test', origin => $origin->{url} },
    { host => 'strip.test', origin => $origin->{url},
      extra => { cache => { 'set-cookie' => 'strip' } } },
]);
my %site = (port => $ae->{port}, host => 'example.test');
my $serial = 0;

# Each case: the response's Cache-Control, and whether a response to a
# request with Authorization may be stored (RFC 9111 3.5).
my @AUTHORIZED = (
    [ 'max-age=60' => 0 ],
    [ 'public, max-age=60' => 1 ],
    [ 's-maxage=60' => 1 ],
    [ 'must-revalidate, max-age=60' => 1 ],
);
for my $case (@AUTHORIZED) {
    my ($cc, $storable) = @$case;
    subtest "Authorization, response Cache-Control: $cc" => sub {
        my $path = origin_path('/authorized/' . ++$serial, cc => $cc);
        my $r = served_ok(http(%site, path => $path, headers => ['Authorization: Basic dXNlcjpwYXNz']),
                          'with Authorization', x_cache => 'PASS');
        is((cache_status($r) // {})->{stored} ? 'stored' : 'not stored',
           $storable ? 'stored' : 'not stored', 'Cache-Status says whether it was stored');
        my $next = $storable ? stored_ok(%site, origin => $origin, path => $path)
                             : not_stored_ok(%site, origin => $origin, path => $path);
        is($next->{body}, "hello from demo origin: $path\n", 'the next request (without Authorization): body');
    };
}

my $COOKIE = 'Set-Cookie: session=abc; Path=/';

subtest 'Set-Cookie: not stored by default' => sub {
    my $path = origin_path('/cookie/default', h => $COOKIE);
    my $r = served_ok(http(%site, path => $path), 'first request', x_cache => 'MISS',
        cache_status => { fwd => 'uri-miss', 'fwd-status' => 200, detail => 'set-cookie' });
    is($r->{headers}{'set-cookie'}, 'session=abc; Path=/', 'the client gets the cookie');
    not_stored_ok(%site, origin => $origin, path => $path);
};

subtest 'Set-Cookie with set-cookie: strip: stored without it' => sub {
    my %s = (%site, host => 'strip.test', path => origin_path('/cookie/strip', h => $COOKIE, h => 'X-Other: o'));
    my $miss = served_ok(http(%s), 'first request', x_cache => 'MISS',
        cache_status => { fwd => 'uri-miss', 'fwd-status' => 200, stored => 1 });
    is($miss->{headers}{'set-cookie'}, 'session=abc; Path=/', 'MISS: the client gets the cookie');
    my $hit = served_ok(stored_ok(%s, origin => $origin), 'second request', x_cache => 'HIT',
                        body => $miss->{body});
    ok(!exists $hit->{headers}{'set-cookie'}, 'HIT: no Set-Cookie');
    is($hit->{headers}{'x-other'}, 'o', 'HIT: other headers kept');
    is($hit->{headers}{'cache-control'}, 'max-age=60', 'HIT: Cache-Control kept');
};

# Each case: a Cache-Control naming X-Secret: stored, served without it.
for my $cc ('no-cache="X-Secret", max-age=60', 'private="X-Secret", max-age=60') {
    subtest "Cache-Control: $cc" => sub {
        my $path = origin_path('/qualified/' . ++$serial, cc => $cc, h => 'X-Secret: s', h => 'X-Other: o');
        my $miss = served_ok(http(%site, path => $path), 'first request', x_cache => 'MISS',
            cache_status => { fwd => 'uri-miss', 'fwd-status' => 200, stored => 1 });
        is($miss->{headers}{'x-secret'}, 's', 'MISS: X-Secret passed on');
        my $hit = served_ok(stored_ok(%site, origin => $origin, path => $path), 'second request',
            x_cache => 'HIT', cache_status => { hit => 1, ttl => [56, 60] }, body => $miss->{body});
        ok(!exists $hit->{headers}{'x-secret'}, 'HIT: no X-Secret');
        is($hit->{headers}{'x-other'}, 'o', 'HIT: other headers kept');
        is($hit->{headers}{'cache-control'}, $cc, 'HIT: Cache-Control kept');
    };
}

subtest 'hop-by-hop response headers are not passed on' => sub {
    my $path = origin_path('/hop-by-hop', h => 'Connection: X-Hop', h => 'X-Hop: 1',
                           h => 'Keep-Alive: timeout=5', h => 'X-Kept: 1');
    my $miss = served_ok(http(%site, path => $path), 'first request', x_cache => 'MISS');
    my $hit = served_ok(stored_ok(%site, origin => $origin, path => $path), 'second request',
                        x_cache => 'HIT');
    for my $r ([MISS => $miss], [HIT => $hit]) {
        my ($what, $response) = @$r;
        ok(!exists $response->{headers}{'x-hop'}, "$what: no X-Hop (named by Connection)");
        ok(!exists $response->{headers}{'keep-alive'}, "$what: no Keep-Alive");
        unlike($response->{headers}{connection} // '', qr/x-hop/i, "$what: Connection does not name X-Hop");
        is($response->{headers}{'x-kept'}, '1', "$what: end-to-end header passed on");
    }
};

# Each case: origin parameters for a response whose Vary lists "*".
my @VARY_STAR = (
    [ 'Vary: *' => [vary => '*'] ],
    [ 'Vary: Accept, *' => [vary => 'Accept, *'] ],
    [ 'Vary: Accept and Vary: *' => [h => 'Vary: Accept', h => 'Vary: *'] ],
);
for my $case (@VARY_STAR) {
    my ($name, $params) = @$case;
    subtest "$name: never reused" => sub {
        my $path = origin_path('/vary-star/' . ++$serial, @$params);
        served_ok(http(%site, path => $path), 'first request', x_cache => 'MISS');
        served_ok(not_stored_ok(%site, origin => $origin, path => $path), 'second request',
                  x_cache => 'MISS');
    };
}

subtest '206 from the origin: passed through, not stored' => sub {
    my $path = origin_path('/partial', status => 206, size => 10, h => 'Content-Range: bytes 0-9/100');
    my $r = served_ok(http(%site, path => $path), 'first request', status => 206,
        x_cache => 'MISS', body => expected_body(10),
        cache_status => { fwd => 'uri-miss', 'fwd-status' => 206, stored => undef, detail => MAYBE });
    is($r->{headers}{'content-range'}, 'bytes 0-9/100', 'Content-Range passed on');
    served_ok(not_stored_ok(%site, origin => $origin, path => $path), 'second request',
              status => 206, body => expected_body(10));
};

done_testing;
