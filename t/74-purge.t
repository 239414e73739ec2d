# t/74-purge.t -- purges on a fleet of three real nodes (each its own store, the same origin, each
# listing the other two as purge.peers): by URL (all variants), prefix and tag (Surrogate-Key,
# Cache-Tag), soft purges that keep stale-if-error working, PURGE on a site that allows it, the
# admin checks (token, allow-list), an id applied once, a peer that is down getting the purge when
# it comes back, `anyedge purge`, and a purge by tag of 100,000 objects. Reports how long a purge
# takes to be in effect on every node.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use File::Basename qw(dirname);
use JSON::PP qw(decode_json);
use Time::HiRes qw(time sleep);
use Test::More;

my $TOKEN = 'test-token-0123456789abcdef';
my $origin = start_origin();
my @admin = map { AnyEdgeTest::empty_port() } 1 .. 3;
my @nodes;
for my $i (0 .. 2) {
    my $peers = join ', ', map { "\"http://127.0.0.1:$admin[$_]\"" } grep { $_ != $i } 0 .. 2;
    push @nodes, start_anyedge(
        sites => [ { host => 'example.test', origin => $origin->{url}, extra => { purge => 'true' } },
                   { host => 'other.test', origin => $origin->{url} } ],
        extra_yaml => <<"YAML");
admin:
  listen: "127.0.0.1:$admin[$i]"
  token: "$TOKEN"
purge:
  peers: [$peers]
  wait-timeout: 2s
YAML
    $nodes[$i]{admin} = $admin[$i];
}
my ($A, $B, $C) = @nodes;

sub get { my ($node, $path, %h) = @_; return http(port => $node->{port}, host => $h{host} // 'example.test', path => $path, %h) }
sub x_cache { return get(@_)->{headers}{'x-cache'} // 'none' }
# Brings $path into every node's store (a MISS, then a HIT on each).
sub warm {
    my ($path, %h) = @_;
    for my $node (@nodes) {
        get($node, $path, %h);
        ok(wait_until(5, sub { x_cache($node, $path, %h) eq 'HIT' }), "$path is a HIT on node $node->{port}");
    }
}
sub admin_purge {
    my ($node, $query, %opt) = @_;
    my @auth = exists $opt{token} ? (defined $opt{token} ? ("Authorization: Bearer $opt{token}") : ()) : ("Authorization: Bearer $TOKEN");
    my $r = http(port => $node->{admin}, path => "/purge?$query", method => 'POST', headers => \@auth, max_time => 15);
    $r->{json} = eval { decode_json($r->{body}) } // {};
    return $r;
}
sub esc { return AnyEdgeTest::query_escape($_[0]) }

subtest 'by URL, on every node, waiting for the peers' => sub {
    warm('/u1');
    my $started = time;
    my $r = admin_purge($A, 'url=' . esc('http://example.test/u1') . '&wait=1');
    my $took = time - $started;
    is($r->{status}, 200, 'answered 200');
    is($r->{json}{purged}, 1, 'one object purged here');
    is_deeply([ map { "$_->{state} $_->{purged}" } @{ $r->{json}{peers} } ], ['done 1', 'done 1'], 'and one on each peer');
    is(x_cache($_, '/u1'), 'MISS', "node $_->{port}: a MISS now") for @nodes;
    note(sprintf 'purge in effect on all 3 nodes (asked on one, wait=1): %.3f s', $took);
};

subtest 'by URL: every variant' => sub {
    my $path = '/v1?vary=Accept-Language';
    for my $lang (qw(en de)) {
        get($A, $path, headers => ["Accept-Language: $lang"]) for 1 .. 2;
        ok(wait_until(5, sub { x_cache($A, $path, headers => ["Accept-Language: $lang"]) eq 'HIT' }), "variant $lang stored");
    }
    my $r = admin_purge($A, 'url=' . esc("http://example.test$path"));
    is($r->{json}{purged}, 2, 'both variants purged');
    is(x_cache($A, $path, headers => ["Accept-Language: $_"]), 'MISS', "variant $_: MISS") for qw(en de);
};

subtest 'by prefix' => sub {
    warm($_) for '/dir/a', '/dir/b', '/dirt';
    my $r = admin_purge($A, 'prefix=' . esc('http://example.test/dir/') . '&wait=1');
    is($r->{json}{purged}, 2, 'the two objects under /dir/');
    is(x_cache($B, '/dir/a'), 'MISS', 'gone on a peer too');
    is(x_cache($C, '/dirt'), 'HIT', 'and /dirt is not under /dir/');
};

subtest 'by tag: Surrogate-Key and Cache-Tag' => sub {
    my @paths = ('/t1?h=' . esc('Surrogate-Key: red blue'), '/t2?h=' . esc('Cache-Tag: blue,green'), '/t3?h=' . esc('Surrogate-Key: red'));
    warm($_) for @paths;
    my $hit = get($A, $paths[0]);
    ok(!exists $hit->{headers}{'surrogate-key'}, 'the tag headers are not sent to clients');
    my $r = admin_purge($A, 'tag=blue&wait=1');
    is($r->{json}{purged}, 2, 'two objects tagged blue');
    is(x_cache($C, $paths[0]), 'MISS', 'tagged blue (Surrogate-Key): gone on a peer');
    is(x_cache($C, $paths[1]), 'MISS', 'tagged blue (Cache-Tag): gone');
    is(x_cache($C, $paths[2]), 'HIT', 'tagged red only: kept');
};

subtest 'soft: stale, so revalidated, and still there for stale-if-error' => sub {
    my $path = '/s1?etag=' . esc('"v1"') . '&cc=' . esc('max-age=600, stale-if-error=600');
    warm($path);
    my $r = admin_purge($A, 'url=' . esc("http://example.test$path") . '&soft=1&wait=1');
    is($r->{json}{purged}, 1, 'one object softened');
    is(x_cache($B, $path), 'REVALIDATED', 'the next request revalidates it (304 from the origin)');
    admin_purge($A, 'url=' . esc("http://example.test$path") . '&soft=1&wait=1');
    kill 'TERM', $origin->{pid};
    waitpid $origin->{pid}, 0;
    my $stale = get($C, $path);
    $origin = start_origin(port => $origin->{port});
    is($stale->{status}, 200, 'with the origin gone, a soft-purged object is still served (stale-if-error)');
    is($stale->{headers}{'x-cache'}, 'STALE', '(stale)');
};

subtest 'PURGE on a site that allows it; the admin checks' => sub {
    warm('/m1');
    my $r = http(port => $A->{port}, host => 'example.test', path => '/m1', method => 'PURGE', headers => ["Authorization: Bearer $TOKEN"]);
    is($r->{status}, 200, 'PURGE with the token: 200');
    is(x_cache($A, '/m1'), 'MISS', 'purged');
    $r = http(port => $A->{port}, host => 'example.test', path => '/m1', method => 'PURGE');
    is($r->{status}, 401, 'PURGE without the token: 401');
    is(admin_purge($A, 'url=' . esc('http://example.test/m1'), token => undef)->{status}, 401, 'POST /purge without the token: 401');
    is(admin_purge($A, 'url=' . esc('http://example.test/m1'), token => 'wrong-token-0123456789')->{status}, 401, 'with a wrong token: 401');
    is(admin_purge($A, 'url=' . esc('http://nowhere.test/x'))->{status}, 404, 'a URL of no site: 404');
    is(admin_purge($A, 'what=ever')->{status}, 400, 'nothing to purge: 400');
    is(http(port => $A->{admin}, path => '/purge?url=x', headers => ["Authorization: Bearer $TOKEN"])->{status}, 405, 'GET /purge: 405');
};

subtest 'an id is applied once' => sub {
    warm('/d1');
    my $r1 = admin_purge($A, 'url=' . esc('http://example.test/d1') . '&id=abc123&wait=1');
    get($_, '/d1') for @nodes;
    ok(wait_until(5, sub { x_cache($B, '/d1') eq 'HIT' }), 'stored again');
    my $r2 = admin_purge($A, 'url=' . esc('http://example.test/d1') . '&id=abc123&wait=1');
    ok($r2->{json}{duplicate}, 'the same id again: a duplicate');
    is(x_cache($B, '/d1'), 'HIT', 'not applied again');
    my $log = slurp($B->{stderr_log});
    is(scalar(() = $log =~ /purge abc123:/g), 1, 'the peer applied it once');
};

subtest 'a peer that is down gets the purge when it is back' => sub {
    warm('/p1');
    stop_anyedge($C);
    my $r = admin_purge($A, 'url=' . esc('http://example.test/p1') . '&wait=1');
    my %state = map { $_->{peer} => $_->{state} } @{ $r->{json}{peers} };
    is($state{"http://127.0.0.1:$C->{admin}"}, 'retrying', 'the stopped peer: retrying (after wait-timeout)');
    restart_anyedge($C);
    my $back = time;
    ok(wait_until(20, sub { slurp($C->{stderr_log}) =~ /purge $r->{json}{id}:/ }), 'the peer got it once it was back')
        and note(sprintf 'peer back -> purge applied there in %.2f s', time - $back);
    is(x_cache($C, '/p1'), 'MISS', 'and its copy is gone');
};

subtest 'anyedge purge' => sub {
    warm('/c1');
    my $r = run_anyedge('purge', '--wait', 'http://example.test/c1', '-c', $A->{conf});
    is($r->{exit}, 0, 'exit 0') or diag($r->{stderr});
    is(decode_json($r->{stdout})->{purged}, 1, 'it printed the answer');
    is(x_cache($B, '/c1'), 'MISS', 'purged on a peer');
    $r = run_anyedge('purge', '-c', $A->{conf});
    is($r->{exit}, 2, 'no target: usage, exit 2');
};

subtest 'purge by tag of 100,000 objects' => sub {
    my $tool = dirname(anyedge_bin()) . '/tools/store_populate';
    my $dir = AnyEdgeTest::temp_dir();
    system($tool, "$dir/cache", '1G', 'example.test', 100_000, 10_000, 'big') == 0 or return fail('store_populate');
    my $port = AnyEdgeTest::empty_port();
    my $node = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ], cache_path => "$dir/cache", cache_size => '1G',
                             extra_yaml => "admin:\n  listen: \"127.0.0.1:$port\"\n  token: \"$TOKEN\"\n");
    $node->{admin} = $port;
    is(x_cache($node, '/obj/77'), 'HIT', 'a tagged object is a HIT');
    my $started = time;
    my $r = admin_purge($node, 'tag=big');
    my $took = time - $started;
    is($r->{json}{purged}, 100_000, 'all 100,000 purged');
    cmp_ok($took, '<', 30, 'in bounded time') and note(sprintf 'purge by tag of 100,000 objects: %.2f s', $took);
    is(x_cache($node, '/obj/77'), 'MISS', 'gone');
};

subtest 'config errors' => sub {
    my $dir = AnyEdgeTest::temp_dir();
    my %base = (port => 1, cache_path => "$dir/c", sites => [ { host => 'a.test', origin => 'http://127.0.0.1:1' } ]);
    for my $case (
        ["purge:\n  peers: [\"http://127.0.0.1:2\"]\n", qr/'purge\.peers' needs 'admin\.listen' and 'admin\.token'/],
        ["admin:\n  listen: \"127.0.0.1:3\"\n  token: \"$TOKEN\"\npurge:\n  peers: [\"ftp://x\"]\n", qr/'purge\.peers': bad peer 'ftp:\/\/x'/],
        ["admin:\n  token: short\n", qr/'admin\.token': at least 16 characters/],
        ["admin:\n  allow: [10.0.0.0/33]\n", qr/'admin\.allow': bad network '10\.0\.0\.0\/33'/],
    ) {
        my ($yaml, $error) = @$case;
        my ($exit, $stderr) = run_anyedge_check(write_config($dir, config_yaml(%base, extra_yaml => $yaml), 'bad.conf'));
        is($exit, 1, 'refused: ' . ($yaml =~ s/\n/ /gr));
        like($stderr, $error, '  with the reason');
    }
};

subtest 'admin.allow' => sub {
    my $port = AnyEdgeTest::empty_port();
    my $node = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ],
                             extra_yaml => "admin:\n  listen: \"127.0.0.1:$port\"\n  token: \"$TOKEN\"\n  allow: [192.0.2.0/24]\n");
    $node->{admin} = $port;
    is(admin_purge($node, 'tag=x')->{status}, 403, 'a client outside admin.allow: 403, token or not');
    is(http(port => $port, path => '/health')->{status}, 403, 'for every admin path');
};

done_testing();
