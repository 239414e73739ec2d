# t/69-cache-key.t -- per-site cache key rules: the query kept, sorted, filtered or ignored, request
# headers and cookies added to the key; host names are case-insensitive and aliases share a site's
# objects. The origin always gets the request as the client sent it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [
    { host => 'example.test', aliases => ['alias.test'], origin => $origin->{url} },
    { host => 'sort.test',    origin => $origin->{url}, extra => { cache => { key => { query => 'sort' } } } },
    { host => 'ignore.test',  origin => $origin->{url}, extra => { cache => { key => { query => 'ignore' } } } },
    { host => 'filter.test',  origin => $origin->{url},
      extra => { cache => { key => { 'exclude-params' => '[utm_source, utm_medium]' } } } },
    { host => 'only.test',    origin => $origin->{url}, extra => { cache => { key => { 'include-params' => '[id]' } } } },
    { host => 'extras.test',  origin => $origin->{url},
      extra => { cache => { key => { headers => '[X-Device]', cookies => '[lang]' } } } },
]);

# Stores the first path's response on `host`, then checks each of the same-key paths is a HIT with
# that body and each other-key path a MISS of its own.
sub key_case {
    my (%c) = @_;
    my %site = (port => $ae->{port}, host => $c{host});
    my $first = http(%site, path => $c{first}, headers => $c{headers} // []);
    is($first->{headers}{'x-cache'}, 'MISS', "$c{host} $c{first}: MISS");
    ok(settle_cache(port => $ae->{port}, host => 'example.test'), 'cache settled');
    for my $same (@{ $c{same} }) {
        my $r = http(%site, path => $same->[0], headers => $same->[1] // []);
        is($r->{headers}{'x-cache'}, 'HIT', "$same->[0] @{$same->[1] // []}: same key, HIT");
        is($r->{body}, $first->{body}, '... with the stored body');
    }
    for my $other (@{ $c{other} }) {
        my $r = http(%site, path => $other->[0], headers => $other->[1] // []);
        is($r->{headers}{'x-cache'}, 'MISS', "$other->[0] @{$other->[1] // []}: another key, MISS");
    }
}

subtest 'without rules the query counts as it is' => sub {
    key_case(host => 'example.test', first => '/k1?b=1&a=2', same => [], other => [ ['/k1?a=2&b=1'] ]);
};

subtest 'host names are case-insensitive, and aliases share the objects' => sub {
    key_case(host => 'example.test', first => '/k2', same => [], other => []);
    for my $host ('EXAMPLE.test', 'alias.test', 'Alias.Test.') {
        is(http(port => $ae->{port}, host => $host, path => '/k2')->{headers}{'x-cache'}, 'HIT', "Host: $host: HIT");
    }
};

subtest 'query: sort' => sub {
    key_case(host => 'sort.test', first => '/k?b=1&a=2', same => [ ['/k?a=2&b=1'] ], other => [ ['/k?b=3&a=2'] ]);
    my $last = (origin_requests($origin))[-1];
    is($last->[1], '/k?b=3&a=2', 'the origin gets the query as the client sent it');
};

subtest 'query: ignore' => sub {
    key_case(host => 'ignore.test', first => '/k?v=1', same => [ ['/k?v=2'], ['/k'] ], other => [ ['/k2?v=1'] ]);
};

subtest 'exclude-params' => sub {
    key_case(host => 'filter.test', first => '/k?id=1&utm_source=a', same => [ ['/k?id=1&utm_source=b&utm_medium=c'], ['/k?id=1'] ],
             other => [ ['/k?id=2&utm_source=a'] ]);
};

subtest 'include-params' => sub {
    key_case(host => 'only.test', first => '/k?id=1&x=1', same => [ ['/k?x=2&id=1'] ], other => [ ['/k?id=2&x=1'] ]);
};

subtest 'headers and cookies in the key' => sub {
    key_case(host => 'extras.test', first => '/k', headers => [ 'X-Device: mobile', 'Cookie: lang=de; session=1' ],
             same  => [ [ '/k', [ 'X-Device: mobile', 'Cookie: session=2; lang=de' ] ] ],
             other => [ [ '/k', [ 'X-Device: desktop', 'Cookie: lang=de' ] ], [ '/k', [ 'X-Device: mobile', 'Cookie: lang=fr' ] ] ]);
};

done_testing;
