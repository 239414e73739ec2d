# t/84-limits.t -- the limits of a node facing the internet, each answered the HTTP way and logged:
# too many or too large headers (431), a too long target (414), a too large body (413), too many
# connections in all or from one address (closed at once), a client too slow to send its head
# (closed after limits.header-timeout), an idle HTTP/2 connection (GOAWAY after limits.idle-timeout),
# requests abandoned before their response (HTTP/2 rapid reset), HTTP/2 streams per connection; the
# defaults let ordinary traffic through.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ], extra_yaml => <<'YAML');
limits:
  header-count: 20
  header-size: 4K
  url-length: 512
  request-body: 1K
  connections: 8
  connections-per-client: 4
  header-timeout: 1s
  idle-timeout: 1s
  abandoned-requests: 50
  http2-streams: 2
YAML
my %site = (port => $ae->{port}, host => 'example.test');

subtest 'the request head' => sub {
    is(http(%site, path => '/ok', headers => [ map { "X-H$_: v" } 1 .. 10 ])->{status}, 200, '10 headers: fine');
    is(http(%site, path => '/many', headers => [ map { "X-H$_: v" } 1 .. 30 ])->{status}, 431, '30 headers (limit 20): 431');
    is(http(%site, path => '/big', headers => ['X-Big: ' . ('a' x 5000)])->{status}, 431, 'a 5000-byte header (limit 4K): 431');
    is(http(%site, path => '/' . ('p' x 400))->{status}, 200, 'a 400-byte target: fine');
    is(http(%site, path => '/' . ('p' x 600))->{status}, 414, 'a 600-byte target (limit 512): 414');
    is(origin_count($origin, qr{^/(many|big|p{600})}), 0, 'none of them reached the origin');
    like(slurp($ae->{stderr_log}), qr/limits\.header-count or limits\.header-size/, 'logged');
};

subtest 'the body' => sub {
    is(http(%site, path => '/post-small?echo=1', method => 'POST', data => 'x' x 500)->{status}, 200, 'a 500-byte body: fine');
    is(http(%site, path => '/post-big', method => 'POST', data => 'x' x 5000)->{status}, 413, 'a 5000-byte body (limit 1K): 413');
    is(origin_count($origin, '/post-big'), 0, 'not sent to the origin');
    like(slurp($ae->{stderr_log}), qr/a request body over limits\.request-body \(1024 bytes\) refused: 413/, 'logged');
    # over HTTP/2 libh2o reads the body before any handler runs and resets the stream (REFUSED_STREAM)
    my $file = AnyEdgeTest::temp_dir() . '/body';
    open my $fh, '>', $file or die;
    print $fh 'x' x 5000;
    close $fh;
    my $code = `curl -sS --http2-prior-knowledge -H 'Host: example.test' --data-binary \@$file -o /dev/null -w '%{http_code}' http://127.0.0.1:$ae->{port}/post-big-h2 2>&1`;
    like($code, qr/\Acurl: \(\d+\) .*\n000\z/, 'over HTTP/2: the stream is refused, no response');
    is(origin_count($origin, '/post-big-h2'), 0, '  and nothing reached the origin');
};

sub open_connection {
    my ($from) = @_;
    return IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ae->{port}", LocalAddr => $from // '127.0.0.1', Timeout => 2);
}
sub served {
    my ($sock) = @_;
    print $sock "GET /held HTTP/1.1\r\nHost: example.test\r\n\r\n";
    my $line = <$sock>;
    return defined $line && $line =~ m{^HTTP/1\.1 200 };
}
# Is the connection closed by the server (EOF within a second, nothing sent)?
sub closed_by_server {
    my ($sock) = @_;
    my $rin = '';
    vec($rin, fileno($sock), 1) = 1;
    return 0 unless select(my $rout = $rin, undef, undef, 1.5);
    return sysread($sock, my $buf, 1) == 0;
}

subtest 'connections from one address' => sub {
    my @held = map { open_connection() } 1 .. 4;
    sleep 0.3;
    my $fifth = open_connection();
    ok(closed_by_server($fifth), 'the 5th connection from 127.0.0.1 (limit 4) is closed at once');
    ok(served($held[0]), 'the four open ones are still served');
    close $_ for @held;
    sleep 0.3;
    is(http(%site, path => '/after-per-client')->{status}, 200, 'once they are closed, new ones are served');
    like(slurp($ae->{stderr_log}), qr/limits\.connections-per-client \(4\) reached/, 'logged');
};

subtest 'connections in all' => sub {
    my @held = map { open_connection($_ <= 4 ? '127.0.0.2' : '127.0.0.3') } 1 .. 8;
    sleep 0.3;
    ok(closed_by_server(open_connection('127.0.0.4')), 'the 9th connection (limits.connections 8) is closed at once');
    ok(served($held[7]), 'the eight are still served');
    close $_ for @held;
    sleep 0.3;
    is(http(%site, path => '/after-total')->{status}, 200, 'then new ones are served again');
};

subtest 'a client too slow to send its head' => sub {
    my $sock = open_connection();
    print $sock "GET /slowloris HTTP/1.1\r\nHost: example.test\r\n";
    my $start = time;
    my $rin = '';
    vec($rin, fileno($sock), 1) = 1;
    select(my $rout = $rin, undef, undef, 5);
    my $got = sysread($sock, my $buf, 4096);
    my $took = time - $start;
    ok(defined $got, 'the server ended it') ;
    cmp_ok($took, '<', 4, sprintf('within limits.header-timeout (1s), not later (%.1fs)', $took));
};

subtest 'an idle HTTP/2 connection' => sub {
    my $sock = open_connection();
    # the client preface, then an empty SETTINGS frame: an h2c connection with prior knowledge
    print $sock "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    my $start = time;
    my ($answer, $buf) = ('');
    while (time - $start < 6) {
        my $rin = '';
        vec($rin, fileno($sock), 1) = 1;
        last unless select(my $rout = $rin, undef, undef, 6);
        my $got = sysread($sock, $buf, 4096);
        last unless $got;
        $answer .= $buf;
    }
    my $took = time - $start;
    ok(length($answer) >= 9 && substr($answer, 3, 1) eq "\x04", 'the server spoke HTTP/2 (its SETTINGS first)')
        or diag(unpack('H*', $answer));
    like($answer, qr/\x07\x00\x00\x00\x00\x00.{8}idle timeout/s, 'then a GOAWAY frame saying "idle timeout"');
    cmp_ok($took, '>=', 0.8, sprintf('after limits.idle-timeout (1s) of silence (%.1fs)', $took));
    cmp_ok($took, '<', 4, '  and closed it, not later');
};

# A raw h2c client (prior knowledge): requests are HEADERS frames (HPACK: :method GET and :scheme
# http from the static table, :path and :authority as literals), cancelled with RST_STREAM.
sub h2_connect {
    my $sock = open_connection();
    print $sock "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    return $sock;
}
sub h2_frame { my ($type, $flags, $id, $payload) = @_; return substr(pack('N', length $payload), 1) . pack('CCN', $type, $flags, $id) . $payload }
sub h2_get {
    my ($id, $path) = @_;
    my $block = "\x82\x86\x04" . chr(length $path) . $path . "\x01" . chr(length 'example.test') . 'example.test';
    return h2_frame(1, 0x5, $id, $block); # END_STREAM | END_HEADERS
}
sub h2_cancel { my ($id) = @_; return h2_frame(3, 0, $id, pack('N', 8)) } # RST_STREAM, CANCEL
# The frames the server sends within $seconds, as [type, stream id]; and whether it closed.
sub h2_frames {
    my ($sock, $seconds) = @_;
    my ($data, @frames, $closed) = ('');
    my $until = time + $seconds;
    while (!$closed && time < $until) {
        my $rin = '';
        vec($rin, fileno($sock), 1) = 1;
        next unless select(my $rout = $rin, undef, undef, $until - time);
        $closed = 1 unless sysread($sock, $data, 65536, length $data);
    }
    while (length $data >= 9) {
        my ($len, $type, $id) = (unpack('N', "\0" . substr($data, 0, 3)), ord(substr($data, 3, 1)), unpack('N', substr($data, 5, 4)));
        last if length $data < 9 + $len;
        push @frames, [$type, $id & 0x7fffffff];
        substr($data, 0, 9 + $len) = '';
    }
    return (\@frames, $closed);
}

subtest 'HTTP/2 requests abandoned before their response (rapid reset)' => sub {
    # 150 requests, each cancelled at once, five at a time every 20 ms (the check acts between reads:
    # what came in the same read as the request over the limit is still started)
    local $SIG{PIPE} = 'IGNORE';
    my $sock = h2_connect();
    my $sent = 0;
    for my $batch (0 .. 29) {
        last unless print $sock map { h2_get(2 * $_ + 1, "/abandon-$_?delay=2") . h2_cancel(2 * $_ + 1) } 5 * $batch .. 5 * $batch + 4;
        $sock->flush;
        $sent += 5;
        sleep 0.02;
    }
    my (undef, $closed) = h2_frames($sock, 3);
    ok($closed && $sent < 150, "the connection is closed once over limits.abandoned-requests (50): $sent requests sent");
    like(slurp($ae->{stderr_log}), qr/a client abandoned 51 requests on one connection before their responses began/, 'logged');
    sleep 2.5; # the fetches the abandoned requests started end (the origin counts a request when it answers)
    my $fetched = origin_count($origin, qr{^/abandon-\d});
    cmp_ok($fetched, '<', 100, "the requests after it were not started ($fetched of 150 reached the origin)");

    http(%site, path => '/answered?cc=max-age=60');
    $sock = h2_connect();
    print $sock map { h2_get(2 * $_ + 1, '/answered?cc=max-age=60') } 0 .. 79;
    my ($frames) = h2_frames($sock, 0.4); # less than limits.idle-timeout (1s)
    is(scalar(grep { $_->[0] == 1 } @$frames), 80, 'a client that let 80 requests finish ...');
    print $sock map { h2_get(2 * $_ + 1, "/abandon-later-$_?delay=2") . h2_cancel(2 * $_ + 1) } 80 .. 139;
    print $sock h2_get(281, '/answered?cc=max-age=60');
    ($frames, $closed) = h2_frames($sock, 0.6);
    ok(!$closed && grep({ $_->[0] == 1 && $_->[1] == 281 } @$frames), '... may abandon 60: its next request is answered');
};

subtest 'HTTP/2 streams handled at once' => sub {
    # six requests of one second each, multiplexed on one h2c connection: two at a time
    my $list = AnyEdgeTest::temp_dir() . '/urls';
    open my $fh, '>', $list or die;
    print $fh map { "http://127.0.0.1:$ae->{port}/h2-$_?delay=1&cc=no-store\n" } 1 .. 6;
    close $fh;
    my $start = time;
    my $out = `h2load -n 6 -c 1 -m 6 -H ':authority: example.test' -i $list 2>&1`;
    my $took = time - $start;
    like($out, qr/requests: 6 total, 6 started, 6 done, 6 succeeded/, 'six requests over one HTTP/2 connection, all answered')
        or diag($out);
    cmp_ok($took, '>=', 2.5, sprintf('limits.http2-streams 2: they took three rounds (%.1f s), not one', $took));
};

done_testing();
