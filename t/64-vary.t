# t/64-vary.t -- responses with Vary (RFC 9111 4.1): one stored variant per
# value of the named request headers (a new value is a MISS with
# fwd=vary-miss, each known value a HIT with its own body), values that differ
# only in whitespace select the same variant, a request without the header is
# a variant of its own, Vary naming two headers, and at most 8 variants per
# URL (the oldest gives way).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ]);
my %site = (port => $ae->{port}, host => 'example.test');

# Request $path with @$headers, expecting a 200 with X-Cache $x_cache (a MISS
# is stored, with fwd=uri-miss for the first variant and fwd=vary-miss for the
# others) and the body the origin makes for the header values in @$varied.
sub variant_ok {
    my ($path, $headers, $x_cache, $varied, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $body = "hello from demo origin: $path\n" . join '', map { "varied=$_\n" } @$varied;
    my $fwd = origin_count($origin, $path) ? 'vary-miss' : 'uri-miss';
    my $r = served_ok(http(%site, path => $path, headers => $headers), $name,
        x_cache => $x_cache, body => $body,
        cache_status => $x_cache eq 'HIT' ? { hit => 1, ttl => [50, 60] }
                                          : { fwd => $fwd, 'fwd-status' => 200, stored => 1 });
    ok(settle_cache(%site), "$name: cache settled") if $x_cache eq 'MISS';
    return $r;
}

subtest 'Vary: Accept-Language' => sub {
    my $path = origin_path('/vary/language', vary => 'Accept-Language');
    my @en = ('Accept-Language: en');
    my @de = ('Accept-Language: de');
    variant_ok($path, \@en, MISS => ['en'], 'en');
    variant_ok($path, \@de, MISS => ['de'], 'de');
    my $hit = variant_ok($path, \@en, HIT => ['en'], 'en again');
    is($hit->{headers}{vary}, 'Accept-Language', 'the HIT has the Vary header');
    variant_ok($path, \@de, HIT => ['de'], 'de again');
    variant_ok($path, ['Accept-Language: en,  fr'], MISS => ['en,  fr'], '"en,  fr"');
    variant_ok($path, ['Accept-Language: en, fr'], HIT => ['en,  fr'],
               '"en, fr": the variant of "en,  fr"');
    variant_ok($path, [], MISS => [''], 'without Accept-Language');
    variant_ok($path, [], HIT => [''], 'without Accept-Language again');
    variant_ok($path, \@en, HIT => ['en'], 'en once more');
    is(origin_count($origin, $path), 4, 'origin contacted once per variant');
};

subtest 'Vary: X-A, X-B' => sub {
    my $path = origin_path('/vary/two', vary => 'X-A, X-B');
    variant_ok($path, ['X-A: 1', 'X-B: 1'], MISS => [1, 1], 'a=1 b=1');
    variant_ok($path, ['X-A: 1', 'X-B: 2'], MISS => [1, 2], 'a=1 b=2');
    variant_ok($path, ['X-A: 1'], MISS => [1, ''], 'a=1 without X-B');
    variant_ok($path, ['X-A: 1', 'X-B: 1'], HIT => [1, 1], 'a=1 b=1 again');
    variant_ok($path, ['X-B: 2', 'X-A: 1'], HIT => [1, 2], 'a=1 b=2 again (other header order)');
    variant_ok($path, ['X-A: 1'], HIT => [1, ''], 'a=1 without X-B again');
    is(origin_count($origin, $path), 3, 'origin contacted once per variant');
};

subtest 'at most 8 variants per URL: the oldest gives way' => sub {
    my $path = origin_path('/vary/many', vary => 'X-V');
    variant_ok($path, ["X-V: $_"], MISS => [$_], "variant $_") for 1 .. 9;
    variant_ok($path, ["X-V: $_"], HIT => [$_], "variant $_ is kept") for 2 .. 9;
    variant_ok($path, ['X-V: 1'], MISS => ['1'], 'variant 1, the oldest, was replaced');
};

done_testing;
