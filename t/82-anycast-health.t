# t/82-anycast-health.t -- anyedge steering its own anycast route, seen at a real BGP router:
# three edge namespaces serve 203.0.113.1 behind a router with ECMP; edge1 and edge2 run
# anyedge with the BIRD announcer, edge3 with ExaBGP and `anyedge exabgp`. Asserted at the
# router: announced after the checks rise; withdrawn when the origin dies, on a drain, on
# kill -9 (BIRD: with `anyedge withdraw`, as systemd's ExecStopPost runs it; ExaBGP: by
# itself), and re-asserted after a BIRD reload; announced again on recovery. A bounded client
# loop through the anycast address sees no failure while an edge drains, and the test reports
# what a crash costs. Times are printed as notes (prove -v).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest qw(anyedge_bin temp_dir wait_until);
use AnyEdgeNet;
use Time::HiRes qw(time sleep);
use Test::More;

require_netns(exabgp => 1);
anyedge_bin();

my $ANYCAST = '203.0.113.1';
my $net = net_create(edges => 3, anycast => [$ANYCAST]);
my ($e1, $e2, $e3) = @{ $net->{edges} };
start_router($net);

my $health = <<'YAML';
health:
  rise: 2
  drain-file: "%s/drain"
  drain-timeout: 1s
  checks:
    self: { interval: 200ms }
    origins: { interval: 200ms, timeout: 500ms%s }
    store: { interval: 200ms }
    workers: { interval: 200ms }
  announcer:
%s
YAML

my (%origin, %ae);
sub start_edge_anyedge {
    my ($edge, $announcer, $extra, $origins_extra) = @_;
    my $dir = temp_dir();
    $ae{ $edge->{name} } = ns_start_anyedge($edge,
        sites => [ { host => 'example.test', origin => $origin{ $edge->{name} }{url} } ],
        extra_listen => ["$ANYCAST:80"],
        extra_yaml => sprintf($health, $dir, $origins_extra // '', $announcer) . ($extra // ''));
    $ae{ $edge->{name} }{drain_file} = "$dir/drain";
    return $ae{ $edge->{name} };
}
sub anyedge_cmd {
    my ($edge, @args) = @_;
    return ns_run($edge, anyedge_bin(), @args, '-c', $ae{ $edge->{name} }{conf});
}
sub hops { my @hops = map { $_->{addr} } @_; return \@hops }
sub noted { my ($what, $seconds) = @_; note(sprintf '%-45s %s s', $what, $seconds // 'never'); return $seconds }

for my $edge ($e1, $e2) {
    start_edge_bird($net, $edge);
    $origin{ $edge->{name} } = ns_start_origin($edge);
}
ok(wait_session($net, $_), "$_->{name}: BGP session up") for $e1, $e2;
is(scalar router_routes($net), 0, 'nothing announced before anyedge runs');

my $bird = "    driver: bird\n    socket: \"%s\"\n    interval: 300ms";
my $started = time;
start_edge_anyedge($_, sprintf($bird, $_->{bird}{sock})) for $e1, $e2;
ok(noted('start -> both edges announced (rise 2 x 200ms)', wait_nexthops($net, undef, hops($e1, $e2), kernel => 1)),
   'both edges announced once their checks rose: ECMP at the router');

subtest 'origin dies: withdrawn; back: announced' => sub {
    ns_stop($origin{edge1}{pid}, 'KILL');
    ok(noted('origin killed -> edge1 withdrawn', wait_nexthops($net, undef, hops($e2))), 'edge1 withdrawn');
    $origin{edge1} = ns_start_origin($e1);
    ok(noted('origin back -> edge1 announced (rise 2)', wait_nexthops($net, undef, hops($e1, $e2))), 'edge1 announced again');
};

subtest 'BIRD reload on edge1: the state is re-asserted' => sub {
    my $before = time;
    reload_bird($e1);
    my $gone = wait_nexthops($net, undef, hops($e2), timeout => 2);
    ok(defined $gone, 'the reload applied the snippet\'s `disabled`: withdrawn');
    ok(noted('birdc configure -> edge1 announced again', wait_nexthops($net, undef, hops($e1, $e2), timeout => 5)),
       'anyedge enabled it again within its interval');
    like(AnyEdgeTest::slurp($ae{edge1}{stderr_log}), qr/in the other state/, 'and logged it');
};

# A bounded client loop through the anycast address; $during->($i) runs before request $i.
# Returns (failures, seconds from the first failure to the last).
sub client_loop {
    my ($count, $during) = @_;
    my ($fails, $first_fail, $last_fail) = (0);
    for my $i (1 .. $count) {
        $during->($i);
        my $r = client_http($net, url => "http://$ANYCAST/loop?i=$i&t=" . time, host => 'example.test', timeout => 2);
        next if $r->{status} == 200;
        ++$fails;
        $first_fail //= time;
        $last_fail = time;
    }
    return ($fails, $fails ? $last_fail - $first_fail : 0);
}

subtest 'drain under a client loop: zero failures' => sub {
    my ($fails) = client_loop(120, sub {
        return unless $_[0] == 30;
        is(anyedge_cmd($e1, 'drain')->{exit}, 0, 'anyedge drain on edge1');
    });
    is($fails, 0, '120 requests through the anycast address while edge1 drained: none failed');
    is_deeply([kernel_nexthops($net)], hops($e2), 'edge1 withdrawn');
    is(anyedge_cmd($e1, 'undrain')->{exit}, 0, 'anyedge undrain');
    ok(noted('undrain -> edge1 announced (rise 2)', wait_nexthops($net, undef, hops($e1, $e2))), 'edge1 announced again');
};

subtest 'kill -9 of anyedge on edge2, then anyedge withdraw (ExecStopPost)' => sub {
    my $killed;
    my ($fails, $span) = client_loop(120, sub {
        return unless $_[0] == 30;
        ns_stop($ae{edge2}{pid}, 'KILL');
        $killed = time;
        is(scalar grep({ $_ eq $e2->{addr} } kernel_nexthops($net)), 1, 'killed: the route stays (BIRD does not know)');
        is(anyedge_cmd($e2, 'withdraw')->{exit}, 0, 'anyedge withdraw exits 0');
        noted('kill -9 -> withdrawn by anyedge withdraw', sprintf '%.2f', time - $killed);
    });
    is_deeply([kernel_nexthops($net)], hops($e1), 'edge2 withdrawn at the router');
    note(sprintf 'crash of edge2 under the client loop: %d of 90 later requests failed, over %.2f s', $fails, $span);
    cmp_ok($fails, '<=', 5, 'at most the requests in flight at the crash failed');
    start_edge_anyedge($e2, sprintf($bird, $e2->{bird}{sock}));
    ok(noted('restart -> edge2 announced', wait_nexthops($net, undef, hops($e1, $e2))), 'restarted edge2 announced again');
};

subtest 'SIGTERM: withdrawn before the listeners close' => sub {
    my ($fails) = client_loop(80, sub {
        return unless $_[0] == 20;
        kill 'TERM', $ae{edge2}{pid};
    });
    is($fails, 0, '80 requests while edge2 stopped (drain-timeout 1s): none failed');
    is_deeply([kernel_nexthops($net)], hops($e1), 'edge2 withdrawn');
    is(ns_stop($ae{edge2}{pid}, 0), 0, 'edge2 exited 0');
};

subtest 'ExaBGP: the same, and kill -9 withdraws by itself' => sub {
    $origin{edge3} = ns_start_origin($e3);
    my $admin = 18081;
    start_edge_anyedge($e3, "    driver: exabgp\n    prefixes: [$ANYCAST/32]\n    interval: 200ms",
                       "admin:\n  listen: \"127.0.0.1:$admin\"\n");
    start_edge_exabgp($net, $e3, command => [anyedge_bin(), 'exabgp', '-c', $ae{edge3}{conf}]);
    ok(noted('ExaBGP edge: announced', wait_nexthops($net, undef, hops($e1, $e3), timeout => 20)), 'edge3 announced through ExaBGP');
    is(anyedge_cmd($e3, 'drain')->{exit}, 0, 'anyedge drain');
    ok(noted('ExaBGP edge: drain -> withdrawn', wait_nexthops($net, undef, hops($e1))), 'withdrawn');
    is(anyedge_cmd($e3, 'undrain')->{exit}, 0, 'anyedge undrain');
    ok(noted('ExaBGP edge: undrain -> announced', wait_nexthops($net, undef, hops($e1, $e3))), 'announced again');
    ns_stop($ae{edge3}{pid}, 'KILL');
    ok(noted('ExaBGP edge: kill -9 -> withdrawn', wait_nexthops($net, undef, hops($e1))),
       'kill -9: `anyedge exabgp` gets no answer and withdraws, no command needed');
    start_edge_anyedge($e3, "    driver: exabgp\n    prefixes: [$ANYCAST/32]\n    interval: 200ms",
                       "admin:\n  listen: \"127.0.0.1:$admin\"\n", ', on-fail: degrade');
    ok(noted('ExaBGP edge: restart -> announced', wait_nexthops($net, undef, hops($e1, $e3))), 'announced again after a restart');
    my $med = sub {
        my $all = birdc($net->{router}, 'show', 'route', "$ANYCAST/32", 'all') // '';
        my ($block) = grep { /\[edge3 / } split /\n(?=\S|\s+unicast )/, $all;
        return !$block ? 'no route' : $block =~ /BGP\.med:\s*(\d+)/ ? $1 : 'none';
    };
    is($med->(), 'none', 'no MED on the route');
    ns_stop($origin{edge3}{pid}, 'KILL');
    ok(wait_until(10, sub { $med->() eq '1000' }), 'origins on-fail: degrade, origin gone: announced with MED 1000 (degraded-attributes)');
    $origin{edge3} = ns_start_origin($e3);
    ok(wait_until(10, sub { $med->() eq 'none' }), 'origin back: announced without it');
};

subtest 'degraded (origins on-fail: degrade): the route stays, de-preferred' => sub {
    start_edge_anyedge($e2, sprintf($bird, $e2->{bird}{sock}) . "\n    degraded-protocols: [anyedge_anycast_degraded, anyedge_anycast6_degraded]",
                       undef, ', on-fail: degrade');
    ok(wait_nexthops($net, undef, hops($e1, $e2, $e3), kernel => 1), 'edge2 announced');
    # the full AS path of edge2's route at the router (`show route ... all`, its BGP.as_path line)
    my $path = sub {
        my $all = birdc($net->{router}, 'show', 'route', "$ANYCAST/32", 'all') // '';
        my ($block) = grep { /\[edge2 / } split /\n(?=\S|\s+unicast )/, $all;
        return $block && $block =~ /BGP\.as_path:\s*([\d ]+)/ ? $1 =~ s/\s+\z//r : 'none';
    };
    is($path->(), $e2->{asn}, "edge2's route: AS path $e2->{asn}");
    ns_stop($origin{edge2}{pid}, 'KILL');
    ok(noted('origin killed -> edge2 degraded', wait_nexthops($net, undef, hops($e1, $e3), kernel => 1)),
       'origin gone: edge2 leaves the ECMP set (the kernel route)');
    my $longer = join ' ', ($e2->{asn}) x 4;
    ok(wait_until(5, sub { $path->() eq $longer }), "but its route stays, with the AS path three hops longer ($longer)")
        or diag('AS path: ' . $path->());
    $origin{edge2} = ns_start_origin($e2);
    ok(noted('origin back -> edge2 announced normally', wait_nexthops($net, undef, hops($e1, $e2, $e3), kernel => 1)),
       'origin back: in the ECMP set again');
    ok(wait_until(5, sub { $path->() eq $e2->{asn} }), 'with its plain AS path') or diag('AS path: ' . $path->());
};

done_testing;
