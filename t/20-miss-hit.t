# t/20-miss-hit.t -- basic caching: a MISS is stored and served as a HIT (with
# X-Cache, Cache-Status and Age), HEAD, what makes a response cacheable or
# not, and requests for hosts the daemon does not serve.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;
use Time::HiRes qw(sleep);

my $origin = start_origin();
my $ae = start_anyedge(sites => [
    { host => 'example.test', aliases => ['alias.test'], origin => $origin->{url} },
]);
my %site = (port => $ae->{port}, host => 'example.test');

subtest 'MISS, then HIT' => sub {
    my $path = '/miss-hit?x=1';
    my ($miss, $hit) = miss_then_hit(%site, origin => $origin, path => $path);
    is($miss->{body}, "hello from demo origin: $path\n", 'body from the origin');
    is($miss->{headers}{'cache-status'}, 'anyedge; fwd=uri-miss; fwd-status=200; stored',
       'Cache-Status of the MISS');

    is($hit->{headers}{'content-type'}, 'text/plain', 'HIT keeps Content-Type');
    is($hit->{headers}{'cache-control'}, 'max-age=60', 'HIT keeps Cache-Control');
    my ($ttl) = ($hit->{headers}{'cache-status'} // '') =~ /\Aanyedge; hit; ttl=(\d+)\z/;
    ok(defined $ttl, 'Cache-Status of the HIT') or diag($hit->{headers}{'cache-status'});
    like($hit->{headers}{age} // '', qr/\A\d+\z/, 'HIT has an integer Age');
    my $age = $hit->{headers}{age} // 0;
    cmp_ok(abs(($ttl // 0) + $age - 60), '<=', 1, 'ttl + Age = max-age');

    my $count = origin_count($origin, $path);
    my @more = map { http(%site, path => $path) } 1 .. 3;
    is(scalar(grep { ($_->{headers}{'x-cache'} // '') eq 'HIT' } @more), 3, 'later requests are HITs');
    is(origin_count($origin, $path), $count, 'HITs do not reach the origin');
};

subtest 'Age grows while the object is cached, Date stays the origin\'s' => sub {
    my $path = '/age';
    my ($miss) = miss_then_hit(%site, origin => $origin, path => $path);
    sleep 1.2;
    my $r = http(%site, path => $path);
    is($r->{headers}{'x-cache'}, 'HIT', 'still a HIT');
    cmp_ok($r->{headers}{age} // 0, '>=', 1, 'Age counts the time spent in the cache');
    is($r->{headers}{date}, $miss->{headers}{date}, 'Date is the one the origin sent, not the time of the hit');
};

subtest 'HEAD' => sub {
    my $uncached = http(%site, path => '/head-uncached', method => 'HEAD');
    is($uncached->{status}, 200, 'HEAD of an uncached URL: status 200');
    is($uncached->{headers}{'x-cache'}, 'MISS', 'HEAD of an uncached URL: MISS');

    my $path = '/head-cached';
    my (undef, $hit) = miss_then_hit(%site, origin => $origin, path => $path);
    my $count = origin_count($origin, $path);
    my $head = http(%site, path => $path, method => 'HEAD');
    is($head->{status}, 200, 'HEAD of a cached URL: status 200');
    is($head->{headers}{'x-cache'}, 'HIT', 'HEAD of a cached URL: HIT');
    is($head->{headers}{'content-length'}, length $hit->{body}, 'Content-Length of the GET');
    is($head->{body}, '', 'no body');
    is(origin_count($origin, $path), $count, 'HEAD HIT does not reach the origin');
};

subtest 'no Content-Length on a 204; the origin\'s on a HEAD passed to it' => sub {
    my $path = '/no-content?status=204&cc=max-age=60';
    my $miss = http(%site, path => $path);
    is("$miss->{status} $miss->{headers}{'x-cache'}", '204 MISS', 'a 204: MISS');
    ok(!exists $miss->{headers}{'content-length'}, '  without Content-Length (RFC 9110 8.6)');
    ok(settle_cache(%site), 'cache settled');
    my $hit = http(%site, path => $path);
    is("$hit->{status} $hit->{headers}{'x-cache'}", '204 HIT', 'then a HIT');
    ok(!exists $hit->{headers}{'content-length'}, '  without Content-Length either');

    # a HEAD that waited on a fill whose response turns out private asks the origin on its own
    my $private = '/private-head?cc=private&size=1234&delay=1';
    my $get = AnyEdgeTest::_curl_start(%site, paths => [$private]);
    sleep 0.3;
    my $head = http(%site, path => $private, method => 'HEAD');
    AnyEdgeTest::_curl_finish($get);
    is($head->{status}, 200, 'HEAD passed to the origin: 200');
    is($head->{headers}{'content-length'}, 1234, '  with the origin\'s Content-Length, not 0');
};

my $in_an_hour = query_escape('Expires:' . http_date(time + 3600));
my $an_hour_ago = query_escape('Expires:' . http_date(time - 3600));

subtest 'cacheable responses' => sub {
    miss_then_hit(%site, origin => $origin, path => '/cacheable?cc=s-maxage=60');
    my (undef, $hit) = miss_then_hit(%site, origin => $origin,
                                     path => "/cacheable?cc=&h=$in_an_hour");
    my ($ttl) = ($hit->{headers}{'cache-status'} // '') =~ /ttl=(\d+)/;
    cmp_ok($ttl // 0, '>', 3500, 'Expires sets the ttl');
};

# Each case: a URL and request headers whose response must not be stored, and
# the X-Cache value expected on that response.  The URL is then requested
# again, without the headers, once everything cacheable has been stored.
my @NOT_STORED = (
    [ 'no-store'                 => '/not-stored?cc=no-store', [], 'MISS' ],
    [ 'private'                  => '/not-stored?cc=' . query_escape('private, max-age=60'), [], 'MISS' ],
    [ 'no freshness information' => '/not-stored?cc=', [], 'MISS' ],
    [ 'Expires in the past'      => "/not-stored?cc=&h=$an_hour_ago", [], 'MISS' ],
    [ 'request with Authorization' => '/not-stored?auth=1',
      ['Authorization: Basic dXNlcjpwYXNz'], 'PASS' ],
);
for my $case (@NOT_STORED) {
    my ($name, $path, $headers, $x_cache) = @$case;
    subtest "not stored: $name" => sub {
        my $first = http(%site, path => $path, headers => $headers);
        is($first->{status}, 200, 'status 200');
        is($first->{headers}{'x-cache'}, $x_cache, "X-Cache: $x_cache");
        unlike($first->{headers}{'cache-status'} // '', qr/\bstored\b/, 'Cache-Status does not say stored');
        ok(settle_cache(%site), 'cache settled');
        my $second = http(%site, path => $path);
        is($second->{headers}{'x-cache'}, 'MISS', 'requested again: MISS');
        is(origin_count($origin, $path), 2, 'origin contacted twice');
    };
}

subtest 'alias of a site' => sub {
    my $r = http(%site, host => 'alias.test', path => '/via-alias');
    is($r->{status}, 200, 'status 200');
    is($r->{body}, "hello from demo origin: /via-alias\n", 'served from the site origin');
};

subtest 'unknown Host' => sub {
    my $r = http(%site, host => 'unknown.test', path => '/unknown-host');
    like($r->{status}, qr/\A4\d\d\z/, 'a 4xx status (421 Misdirected Request)');
    is(origin_count($origin, '/unknown-host'), 0, 'origin not contacted');
};

subtest 'HTTP/1.0 request without Host' => sub {
    my $r = http(port => $ae->{port}, no_host => 1, http_version => '1.0', path => '/no-host');
    is($r->{status}, 400, 'status 400');
    is(origin_count($origin, '/no-host'), 0, 'origin not contacted');
};

done_testing;
