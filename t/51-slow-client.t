# t/51-slow-client.t -- a response that is not stored is streamed to a slow
# client without being held in memory: anyedge stops reading the origin while
# the client lags (about 1 MiB held per response), then resumes, and the client
# gets every byte.  Both ways a response goes through uncached: a response too
# big to store (a GET) and an unsafe method relayed as it is (a POST).  A client
# that leaves while the origin is held back ends the origin exchange.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use IO::Socket::INET;
use Test::More;

my $SIZE = 64 * 1024 * 1024;
# Under AddressSanitizer freed memory waits in a quarantine before it is reused: keep that small,
# or every slice sent would count as held.
$ENV{ASAN_OPTIONS} = join ':', grep { length } $ENV{ASAN_OPTIONS} // '', 'quarantine_size_mb=4'
    if defined $ENV{ASAN_OPTIONS};
my $origin = start_origin();
my $ae;

# A fresh daemon per case: memory freed by one case would hide growth in the next.
sub fresh_anyedge {
    stop_anyedge($ae) if $ae && $ae->{pid};
    $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ],
                        max_object_size => '1M');
}

sub rss_anon_kib {
    open my $fh, '<', "/proc/$ae->{pid}/status" or die "no status for $ae->{pid}: $!\n";
    while (<$fh>) { return $1 if /^RssAnon:\s+(\d+) kB/ }
    die "no RssAnon in /proc/$ae->{pid}/status\n";
}

# Sends a request on a raw connection that reads nothing yet; returns the socket.
sub ask_without_reading {
    my ($method, $path) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ae->{port}", Timeout => 5)
        or die "connect: $!\n";
    setsockopt($sock, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 64 * 1024);
    my $body = $method eq 'POST' ? 'x' : '';
    print $sock "$method $path HTTP/1.1\r\nHost: example.test\r\nContent-Length: " . length($body)
        . "\r\nConnection: close\r\n\r\n$body";
    return $sock;
}

sub read_all {
    my ($sock) = @_;
    local $/;
    my $response = <$sock>;
    my ($head, $body) = split /\r\n\r\n/, $response // '', 2;
    return ($head // '', $body // '');
}

for my $case (['GET', 'too big to store'], ['POST', 'relayed unsafe method']) {
    my ($method, $what) = @$case;
    subtest "$method: $what" => sub {
        fresh_anyedge();
        my $path = "/slow-$method?size=$SIZE";
        my $before = rss_anon_kib();
        my $sock = ask_without_reading($method, $path);
        ok(wait_until(5, sub { origin_count($origin, $path) == 1 }), 'the origin got the request');
        sleep 2; # the origin writes as fast as it can meanwhile
        my $grown = rss_anon_kib() - $before;
        cmp_ok($grown, '<', 16 * 1024, "anyedge holds little while the client lags (grew $grown KiB for a $SIZE-byte body)");
        my ($head, $body) = read_all($sock);
        like($head, qr{\AHTTP/1\.1 200 }, 'status 200');
        like($head, qr{^cache-status: .*detail=too-big}mi, "not stored: too big") if $method eq "GET";
        body_is($body, expected_body($SIZE), 'every byte, in order');
    };
}

subtest 'a client that leaves while the origin is held back' => sub {
    fresh_anyedge();
    my $path = "/slow-leave?size=$SIZE";
    my $sock = ask_without_reading('GET', $path);
    ok(wait_until(5, sub { origin_count($origin, $path) == 1 }), 'the origin got the request');
    sleep 1;
    my $to_origin = sub { scalar grep { /\S/ } `ss -tnH state established '( dport = :$origin->{port} )'` };
    is($to_origin->(), 1, 'one connection to the origin, held back');
    close $sock;
    ok(wait_until(5, sub { $to_origin->() == 0 }), 'closed once the client left');
    my $r;
    ok(wait_until(5, sub { ($r = http(port => $ae->{port}, host => "example.test", path => "/after"))->{status} == 200 }),
       'anyedge keeps serving');
    is(stop_anyedge($ae), 0, 'and shuts down cleanly: no exchange left behind');
};

subtest 'a body of unknown length that outgrows max-object-size takes no new joiners' => sub {
    fresh_anyedge();
    # chunked, cacheable, 4 MiB: the origin sends half of it, pauses 2 s, then the rest
    my $path = '/grows?size=4194304&chunked=1&body-delay=2';
    my $first = AnyEdgeTest::_curl_start(port => $ae->{port}, host => 'example.test', paths => [$path]);
    ok(wait_until(5, sub { origin_count($origin, $path) == 1 }), 'the first request is fetching');
    sleep 0.5; # 2 MiB of it are in, more than max-object-size (1M)
    my $second = http(port => $ae->{port}, host => 'example.test', path => $path);
    my ($r1) = AnyEdgeTest::_curl_finish($first);
    body_is($r1->{body}, expected_body(4194304), 'the first gets every byte');
    body_is($second->{body}, expected_body(4194304), 'so does the second');
    is(origin_count($origin, $path), 2, 'which fetched on its own instead of joining the first (whose body would all be kept for it)');
};

done_testing();
