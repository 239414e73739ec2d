# t/80-bgp-harness.t -- the BGP test network of t/lib/AnyEdgeNet.pm, without anyedge: the shipped
# BIRD and ExaBGP configs parse; a router BIRD learns the anycast route from edge BIRDs only
# while their anyedge_anycast protocol is enabled, merges two edges into an ECMP route that the
# client's traffic follows, loses the route when an edge's BIRD dies, hangs, reloads or its link
# goes down; an ExaBGP edge announces and withdraws what its process prints.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest qw(temp_dir slurp wait_until);
use AnyEdgeNet;
use Test::More;
use Time::HiRes qw(sleep time);

require_netns();

my $ROOT = "$FindBin::Bin/..";
my $ANYCAST = '203.0.113.1';
my $PREFIX = "$ANYCAST/32";

subtest 'the shipped BIRD and ExaBGP configs parse' => sub {
    my $dir = temp_dir();
    my $snippet = "$ROOT/etc/bird/anyedge.conf";
    my $bird = net_program('bird');
    my $out = `'$bird' -p -c '$snippet' 2>&1`;
    is($?, 0, 'bird -p accepts etc/bird/anyedge.conf') or diag $out;

    # The commented example sessions, uncommented, after the snippet.
    my $text = slurp($snippet);
    my ($example) = $text =~ /^(# protocol bgp .*)\z/ms;
    ok($example, 'the snippet has an example BGP session');
    open my $fh, '>', "$dir/bird.conf" or die;
    print {$fh} $text, ($example // '') =~ s/^# ?//mgr;
    close $fh;
    $out = `'$bird' -p -c '$dir/bird.conf' 2>&1`;
    is($?, 0, 'and its example sessions, uncommented, are valid too') or diag $out;

    SKIP: {
        skip 'exabgp is not installed', 1 if net_skip_reason(exabgp => 1);
        # `exabgp --test` wants the process's program to exist.
        open $fh, '>', "$dir/exabgp.conf" or die;
        print {$fh} slurp("$ROOT/etc/exabgp/anyedge.conf") =~ s{/usr/sbin/anyedge }{/bin/true }r;
        close $fh;
        open $fh, '>', "$dir/exabgp.env" or die;
        print {$fh} "[exabgp.api]\ncli = false\n";
        close $fh;
        my $exabgp = net_program('exabgp');
        $out = `'$exabgp' --env '$dir/exabgp.env' --test '$dir/exabgp.conf' 2>&1`;
        is($?, 0, 'exabgp --test accepts etc/exabgp/anyedge.conf') or diag $out;
    }
};

my $net = net_create(edges => 3, client => 1, anycast => [$ANYCAST]);
my ($edge1, $edge2, $edge3) = @{ $net->{edges} };

# A tiny HTTP server on the anycast address of each BIRD edge, answering with the edge's name.
my $responder = <<'EOT';
use IO::Socket::INET;
my ($addr, $name) = @ARGV;
my $server = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => 80, Listen => 16, ReuseAddr => 1)
    or die "listen $addr:80: $!\n";
while (my $client = $server->accept) {
    while (defined(my $line = <$client>)) { last if $line =~ /^\r?\n\z/ }
    print {$client} "HTTP/1.0 200 OK\r\nContent-Length: " . (length($name) + 1) . "\r\nConnection: close\r\n\r\n$name\n";
    close $client;
}
EOT
for my $edge ($edge1, $edge2) {
    ns_spawn($edge, [$^X, '-e', $responder, $ANYCAST, $edge->{name}]);
    ok(ns_wait_listening($edge, $ANYCAST, 80), "$edge->{name}: HTTP responder on $ANYCAST:80");
}

# Which edges answered $count requests from the client: { edge name => count, fail => count }.
sub served_by {
    my ($count) = @_;
    my %by;
    for (1 .. $count) {
        my $r = client_http($net, url => "http://$ANYCAST/", timeout => 2);
        $by{ $r->{status} == 200 ? $r->{body} =~ s/\n\z//r : 'fail' }++;
    }
    return \%by;
}

my %timing;   # what each step took, printed at the end

subtest 'router and two BIRD edges: sessions come up, nothing announced at start' => sub {
    start_router($net);
    start_edge_bird($net, $_) for $edge1, $edge2;
    for my $edge ($edge1, $edge2) {
        my $took = wait_session($net, $edge);
        ok($took, "router's session with $edge->{name} is Established") and $timing{"$edge->{name} session up"} = $took;
        is(bird_protocol($edge, 'anyedge_anycast')->{state}, 'down', "$edge->{name}: anyedge_anycast starts disabled");
    }
    sleep 0.5;   # time for an (unwanted) announcement to arrive
    ok(!route_present($net, $PREFIX), 'the router has no route for the anycast prefix');
    is_deeply([kernel_nexthops($net, $PREFIX)], [], 'nor has its kernel');
    is(served_by(1)->{fail}, 1, 'the client cannot reach the anycast address');
};

subtest 'enable on one edge: the router learns the route, the client reaches that edge' => sub {
    like(anycast_enable($edge1), qr/anyedge_anycast: enabled/, 'birdc enable anyedge_anycast');
    my $took = wait_route_present($net, $PREFIX);
    ok($took, "route present at the router") and $timing{'announce (birdc enable)'} = $took;
    my @routes = router_routes($net, $PREFIX);
    is(scalar @routes, 1, 'one route');
    is($routes[0]{proto}, 'edge1', 'learned from edge1');
    is($routes[0]{as_path}, $edge1->{asn}, "AS path $edge1->{asn}");
    is_deeply($routes[0]{nexthops}, [$edge1->{addr}], "next hop $edge1->{addr}");
    ok(wait_nexthops($net, $PREFIX, [$edge1], kernel => 1), 'the kernel route points at edge1');
    is_deeply(served_by(5), { edge1 => 5 }, 'the client is served by edge1');
};

subtest 'both edges enabled: ECMP at the router, traffic to both' => sub {
    anycast_enable($edge2);
    my $took = wait_nexthops($net, $PREFIX, [$edge1, $edge2]);
    ok($took, 'BIRD has both next hops') and $timing{'second edge joins'} = $took;
    is(scalar(grep { $_->{primary} } router_routes($net, $PREFIX)), 1, 'one of the two routes is the best');
    ok(wait_nexthops($net, $PREFIX, [$edge1, $edge2], kernel => 1), 'the kernel has one multipath route over both');
    my $by = served_by(30);
    ok($by->{edge1} && $by->{edge2} && !$by->{fail}, 'connections from the client go to both edges')
        or diag explain $by;
};

subtest 'disable: the route is withdrawn' => sub {
    like(anycast_disable($edge1), qr/anyedge_anycast: disabled/, 'birdc disable anyedge_anycast');
    my $took = wait_nexthops($net, $PREFIX, [$edge2]);
    ok($took, 'only edge2 left at the router') and $timing{'withdraw (birdc disable)'} = $took;
    ok(wait_nexthops($net, $PREFIX, [$edge2], kernel => 1), 'and in its kernel');
    is_deeply(served_by(5), { edge2 => 5 }, 'the client is served by edge2');
    anycast_disable($edge2);
    ok(wait_route_absent($net, $PREFIX), 'both disabled: no route at the router');
    is_deeply([kernel_nexthops($net, $PREFIX)], [], 'nor in its kernel');
};

subtest 'a BIRD reload or restart disables the anycast protocol again' => sub {
    anycast_enable($edge1);
    ok(wait_route_present($net, $PREFIX), 'announced');
    like(reload_bird($edge1), qr/Reconfigur/, 'birdc configure');
    my $took = wait_route_absent($net, $PREFIX);
    ok($took, 'the reload withdrew the route (the config says disabled)') and $timing{'withdraw by birdc configure'} = $took;
    is(bird_protocol($edge1, 'anyedge_anycast')->{state}, 'down', 'anyedge_anycast is down');

    anycast_enable($edge1);
    ok(wait_route_present($net, $PREFIX), 'announced again');
    restart_bird($edge1);
    ok(wait_route_absent($net, $PREFIX), 'a restart (SIGTERM, start) withdrew it');
    $took = wait_session($net, $edge1);
    ok($took, 'the session is back') and $timing{'session back after an edge BIRD restart'} = $took;
    sleep 0.5;
    ok(!route_present($net, $PREFIX), 'with nothing announced');
};

subtest 'an edge that dies or loses its link loses the route' => sub {
    anycast_enable($_) for $edge1, $edge2;
    ok(wait_nexthops($net, $PREFIX, [$edge1, $edge2]), 'both announce');
    is(stop_bird($edge2, 'KILL'), 'signal 9', "edge2's BIRD killed with SIGKILL");
    my $took = wait_nexthops($net, $PREFIX, [$edge1]);
    ok($took, 'its route is gone at once (the TCP connection closed)') and $timing{'withdraw by SIGKILL of the edge BIRD'} = $took;

    link_down($edge1);
    $took = wait_route_absent($net, $PREFIX);
    ok($took, "edge1's link down: the router drops the session and the route at once (carrier lost)")
        and $timing{'withdraw by link down (carrier)'} = $took;
    link_up($edge1);
    ok(wait_session($net, $edge1), 'link up: the session is back');
    ok(wait_route_present($net, $PREFIX), 'and the route (anyedge_anycast stayed enabled)');

    kill 'STOP', $edge1->{bird}{pid};
    $took = wait_route_absent($net, $PREFIX);
    ok($took, "edge1's BIRD frozen (SIGSTOP): the route is gone when the hold timer expires")
        and $timing{'withdraw by a frozen edge BIRD (hold timer 3 s)'} = $took;
    cmp_ok($took // 0, '>=', 2, 'after about 3 s');
    kill 'CONT', $edge1->{bird}{pid};
    ok(wait_session($net, $edge1), 'resumed: the session is back');
    ok(wait_route_present($net, $PREFIX), 'and the route');
    anycast_disable($edge1);
    ok(wait_route_absent($net, $PREFIX), 'disabled again');
};

SKIP: {
    skip 'exabgp is not installed', 1 if net_skip_reason(exabgp => 1);
    subtest 'an ExaBGP edge announces and withdraws what its process prints' => sub {
        my $dir = temp_dir();
        # Announce; withdraw once "$dir/withdraw" exists; announce again once "$dir/again" does.
        my $script = <<'EOT';
$| = 1;
my ($dir, $prefix) = @ARGV;
print "announce route $prefix next-hop self\n";
sleep 0.1 until -e "$dir/withdraw";
print "withdraw route $prefix next-hop self\n";
sleep 0.1 until -e "$dir/again";
print "announce route $prefix next-hop self\n";
sleep 1 while 1;
EOT
        my $start = time;
        start_edge_exabgp($net, $edge3,
            command => [$^X, '-MTime::HiRes=sleep', '-e', $script, $dir, $PREFIX]);
        my $took = wait_route_present($net, $PREFIX);
        ok($took, 'announced') and $timing{'ExaBGP start to route present'} = sprintf('%.2f', time - $start);
        my ($route) = router_routes($net, $PREFIX);
        is($route->{proto}, 'edge3', 'learned from edge3');
        is_deeply($route->{nexthops}, [$edge3->{addr}], "next hop $edge3->{addr} (next-hop self)");
        is($route->{as_path}, $edge3->{asn}, "AS path $edge3->{asn}");

        open my $fh, '>', "$dir/withdraw" or die;
        $took = wait_route_absent($net, $PREFIX);
        ok($took, 'withdrawn') and $timing{'ExaBGP withdraw'} = $took;
        open $fh, '>', "$dir/again" or die;
        ok(wait_route_present($net, $PREFIX), 'announced again');
        is(stop_exabgp($edge3), 0, 'ExaBGP stopped with SIGTERM, exit status 0');
        $took = wait_route_absent($net, $PREFIX);
        ok($took, 'which withdrew the route') and $timing{'withdraw by stopping ExaBGP'} = $took;
    };
}

note(sprintf "%-45s %ss", $_, $timing{$_}) for sort keys %timing;

done_testing;
