# t/30-origin-failures.t -- origins that refuse, hang, time out, break the
# connection or talk nonsense (raw responses: oversized heads, unknown transfer codings, folded
# lines, odd statuses, bad chunk sizes): the client gets a 502/504 from anyedge (or a
# truncated response if the status was already sent), nothing broken is
# stored, and the daemon keeps serving.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;
use MIME::Base64 qw(encode_base64);

my $origin = start_origin();
my $blackhole = blackhole_port();
my %timeouts = (
    'origin-connect-timeout'    => '1s',
    'origin-first-byte-timeout' => '1s',
    'origin-idle-timeout'       => '1s',
);
my $ae = start_anyedge(sites => [
    { host => 'example.test',   origin => $origin->{url}, extra => \%timeouts },
    { host => 'refused.test',   origin => 'http://127.0.0.1:' . empty_port(), extra => \%timeouts },
    { host => 'blackhole.test', origin => "http://127.0.0.1:$blackhole->{port}", extra => \%timeouts },
]);
my %site = (port => $ae->{port}, host => 'example.test');

# Test that the daemon survived (restarting it if not, so that the remaining
# cases still run) and that it serves the next request.
my $followups = 0;
sub still_serving {
    ok(anyedge_running($ae), 'daemon still running') or do {
        diag("anyedge exited ($ae->{exit}); restarting it for the next case");
        restart_anyedge($ae);
    };
    my $r = http(%site, path => '/still-serving?n=' . ++$followups);
    is($r->{status}, 200, 'a following request is served');
}

# Each case: host, path, expected status, regex for the body, and the most
# seconds the response may take.
my @ERRORS = (
    [ 'connection refused' => 'refused.test', '/refused', 502, qr/./, 5 ],
    [ 'connect timeout' => 'blackhole.test', '/blackhole', 504, qr/connect timeout/, 3 ],
    [ 'first-byte timeout' => 'example.test', '/first-byte?delay=3', 504, qr/first-byte timeout/, 2.5 ],
    [ 'connection reset' => 'example.test', '/reset?break=reset', 502, qr/./, 5 ],
    [ 'closed without a response' => 'example.test', '/closed?break=close', 502, qr/./, 5 ],
    [ 'malformed response' => 'example.test', '/garbage?break=garbage', 502, qr/malformed/, 5 ],
    # framing that an HTTP/1.1 client must refuse (RFC 9112 6.3): the origin adds a second
    # Content-Length to its own, invalid or different
    [ 'invalid Content-Length' => 'example.test', '/bad-length?h=Content-Length:%20abc', 502, qr/malformed/, 5 ],
    [ 'conflicting Content-Lengths' => 'example.test', '/two-lengths?h=Content-Length:%209999', 502, qr/malformed/, 5 ],
);
for my $case (@ERRORS) {
    my ($name, $host, $path, $status, $body_re, $max_time) = @$case;
    subtest $name => sub {
        my $r = http(%site, host => $host, path => $path);
        is($r->{status}, $status, "status $status");
        like($r->{body}, qr/\Aanyedge: /, 'error body from anyedge');
        like($r->{body}, $body_re, 'error body says what failed');
        cmp_ok($r->{time}, '<', $max_time, "answered within ${max_time}s");
        still_serving();
    };
}

# Each case: a response no well-behaved origin sends (given raw), and the status the client gets.
# None may be stored, relayed as it is, or take the daemon down.
my @RAW = (
    [ 'a head over 64 KiB in one read' => "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nX-Big: {PAD}\r\n"
                                          . "Content-Length: 2\r\n\r\nok", 502 ],
    [ 'a header name over 64 KiB' => "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n{PAD}: v\r\nContent-Length: 2\r\n\r\nok", 502 ],
    [ 'a transfer coding other than chunked alone' => "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
        . "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 502 ],
    [ 'two Transfer-Encoding lines' => "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: gzip\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 502 ],
    [ 'a folded header line' => "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nX-A: one\r\n two\r\n"
        . "Content-Length: 2\r\n\r\nok", 502 ],
    [ 'status 999' => "HTTP/1.1 999 Weird\r\nCache-Control: max-age=60\r\nContent-Length: 2\r\n\r\nok", 502 ],
    [ 'a chunk size written 0x5' => "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n"
        . "0x5\r\nhello\r\n0\r\n\r\n", 200 ],
);
for my $i (0 .. $#RAW) {
    my ($name, $response, $status) = @{ $RAW[$i] };
    subtest "raw response: $name" => sub {
        my $path = "/raw-$i?pad=70000&raw=" . query_escape(encode_base64($response, ''));
        my $r = http(%site, path => $path);
        is($r->{status}, $status, "status $status");
        if ($status == 200) {
            isnt($r->{curl_exit}, 0, 'the client sees a broken body, not an empty one');
        } else {
            like($r->{body}, qr/\Aanyedge: .*malformed/, 'error body from anyedge');
        }
        ok(settle_cache(%site), 'cache settled');
        is(http(%site, path => $path)->{headers}{'x-cache'}, 'MISS', 'not stored');
        still_serving();
    };
}

subtest 'trailing spaces after Transfer-Encoding and Content-Length values' => sub {
    for my $response ("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                      "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 5\t\r\n\r\nhello") {
        my $path = '/raw-spaces?raw=' . query_escape(encode_base64($response, ''));
        my $r = http(%site, path => $path);
        is("$r->{status} $r->{body}", '200 hello', 'read as the value without them');
    }
};

subtest 'a pooled connection the origin closed: a GET is retried on a new one' => sub {
    # the same client connection, so the same worker and the same origin connection pool
    my @r = http_batch(%site, paths => [ '/pooled?cc=', '/reused?cc=&break=reused' ]);
    is($r[0]{status}, 200, 'first request over a new origin connection');
    is($r[1]{status}, 200, 'second request: the reused connection was closed, the retry succeeded');
    is(origin_count($origin, '/reused?cc=&break=reused'), 2, 'the origin saw the request twice');
    still_serving();
};

# Each case: a URL whose response starts as a 200 but breaks off before the
# end of the body.  The client must see the truncation, and nothing is stored.
my @TRUNCATED = (
    [ 'idle timeout' => '/idle?body-delay=3&size=100000' ],
    [ 'short body' => '/short?break=short&size=100000' ],
    [ 'short chunked body' => '/short?break=short&size=100000&chunked=1' ],
);
for my $case (@TRUNCATED) {
    my ($name, $path) = @$case;
    subtest $name => sub {
        my $r = http(%site, path => $path);
        is($r->{status}, 200, 'status 200 already sent');
        isnt($r->{curl_exit}, 0, 'the client sees an incomplete response');
        cmp_ok(length $r->{body}, '<', 100_000, 'body truncated');
        ok(settle_cache(%site), 'cache settled');
        my $again = http(%site, path => $path);
        is($again->{headers}{'x-cache'}, 'MISS', 'requested again: MISS');
        is(origin_count($origin, $path), 2, 'origin contacted twice');
        still_serving();
    };
}

done_testing;
