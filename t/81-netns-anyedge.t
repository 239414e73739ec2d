# t/81-netns-anyedge.t -- anyedge on an anycast address, in the BGP test network of
# t/lib/AnyEdgeNet.pm: two edge namespaces each run anyedge (listening on 203.0.113.1:80) in
# front of their own origin, and BIRD with the shipped snippet; the client reaches whichever
# edges announce the anycast route, and none while no edge does.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest qw(origin_count anyedge_bin);
use AnyEdgeNet;
use Test::More;

require_netns();
anyedge_bin();   # bails out early when the binary is missing

my $ANYCAST = '203.0.113.1';
my $net = net_create(edges => 2, anycast => [$ANYCAST]);
my @edges = @{ $net->{edges} };
start_router($net);
my (%origin, %ae);
for my $edge (@edges) {
    start_edge_bird($net, $edge);
    $origin{ $edge->{name} } = ns_start_origin($edge);
    $ae{ $edge->{name} } = ns_start_anyedge($edge,
        sites => [ { host => 'example.test', origin => $origin{ $edge->{name} }{url} } ],
        extra_listen => ["$ANYCAST:80"]);
    ok(wait_session($net, $edge), "$edge->{name}: BGP session up");
}

my $serial = 0;
# Make $count requests for new URLs from the client; which edge's origin got each:
# { edge name => count, fail => count }.
sub fetch {
    my ($count) = @_;
    my %by;
    for (1 .. $count) {
        my $path = '/obj?n=' . ++$serial;
        my $r = client_http($net, url => "http://$ANYCAST$path", host => 'example.test', timeout => 2);
        my ($edge) = grep { origin_count($origin{$_}, $path) } sort keys %origin;
        $by{ $r->{status} == 200 && ($r->{headers}{'x-cache'} // '') eq 'MISS' ? $edge // 'unknown' : 'fail' }++;
    }
    return \%by;
}

is_deeply(fetch(1), { fail => 1 }, 'nothing announced: the client cannot reach the anycast address');

anycast_enable($edges[0]);
ok(wait_nexthops($net, undef, [$edges[0]], kernel => 1), 'edge1 announces');
is_deeply(fetch(5), { edge1 => 5 }, 'edge1 serves the client');

anycast_enable($edges[1]);
ok(wait_nexthops($net, undef, \@edges, kernel => 1), 'both announce: ECMP');
my $by = fetch(30);
ok($by->{edge1} && $by->{edge2} && !$by->{fail}, 'both serve the client') or diag explain $by;

anycast_disable($edges[0]);
ok(wait_nexthops($net, undef, [$edges[1]], kernel => 1), 'edge1 withdrawn');
is_deeply(fetch(5), { edge2 => 5 }, 'edge2 serves everything');

my $r = client_http($net, url => "http://$ANYCAST/obj?n=2", host => 'example.test');
is($r->{headers}{'x-cache'}, 'MISS', "edge2's cache is its own: edge1's object is a miss there");

is(ns_stop_anyedge($ae{edge2}), 0, 'anyedge in edge2 stops with exit status 0');

done_testing;
