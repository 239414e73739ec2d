# t/86-smuggling.t -- request framing that could desynchronise a proxy and its origin. Refused with
# 400 and a closed connection before anything reaches the origin: Content-Length with
# Transfer-Encoding, two Content-Lengths, two Transfer-Encodings, an unknown or listed transfer
# coding, a malformed Content-Length, Transfer-Encoding in HTTP/1.0, two Hosts, a missing or
# malformed Host, a folded header line. An absolute-form target is taken as its path with its host
# as Host. And whatever the client's framing, the origin gets
# anyedge's own: one request with a Content-Length for the body anyedge read, never the client's
# Transfer-Encoding, so bytes a client hides in a body never become a request of their own.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use IO::Socket::INET;
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ]);

# Sends raw bytes on a new connection, half-closes, and returns everything the server answered.
sub raw {
    my ($bytes) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ae->{port}", Timeout => 5) or die "connect: $!";
    print $sock $bytes;
    shutdown $sock, 1;
    local $/;
    my $answer = <$sock> // '';
    return $answer;
}

# How many responses (status lines) an answer holds.
sub responses { my ($answer, $status) = @_; return scalar(() = $answer =~ m{HTTP/1\.1 $status }g) }

# Each case: what it is, the request line's version and the head's lines after the request line
# (Host: example.test is added unless the case is about Host), and what follows the head. Each
# request is followed by a second, well-formed one on the same connection, which must never be read.
my @refused = (
    ['unknown transfer coding', '1.1', ["Transfer-Encoding: xchunked"], "hello"],
    ['chunked not the only coding', '1.1', ["Transfer-Encoding: chunked, identity"], "5\r\nhello\r\n0\r\n\r\n"],
    ['a signed Content-Length', '1.1', ["Content-Length: +5"], "hello"],
    ['a Content-Length that is not a number', '1.1', ["Content-Length: 5x"], "hello"],
    ['Content-Length then Transfer-Encoding', '1.1', ["Content-Length: 40", "Transfer-Encoding: chunked"], "0\r\n\r\n"],
    ['Transfer-Encoding then Content-Length', '1.1', ["Transfer-Encoding: chunked", "Content-Length: 5"], "0\r\n\r\n"],
    ['two different Content-Lengths', '1.1', ["Content-Length: 5", "Content-Length: 0"], "hello"],
    ['two equal Content-Lengths', '1.1', ["Content-Length: 5", "Content-Length: 5"], "hello"],
    ['two Transfer-Encodings', '1.1', ["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"], "0\r\n\r\n"],
    ['Transfer-Encoding in HTTP/1.0', '1.0', ["Transfer-Encoding: chunked"], "0\r\n\r\n"],
    ['two Hosts', '1.1', ["Host: example.test", "Host: other.test"], ""],
    ['no Host in HTTP/1.1', '1.1', [], ""],
    ['a Host with a path', '1.1', ["Host: example.test/x"], ""],
    ['a folded header line', '1.1', ["X-Note: one", " two"], ""],
    ['a space before the colon', '1.1', ["Content-Length : 5"], "hello"],
);
for my $case (@refused) {
    my ($what, $version, $lines, $body) = @$case;
    (my $tag = $what) =~ s/\W+/-/g;
    my @head = grep({ /^Host/ } @$lines) || $what =~ /Host/ ? @$lines : ("Host: example.test", @$lines);
    my $answer = raw("POST /refused-$tag HTTP/$version\r\n" . join('', map { "$_\r\n" } @head) . "\r\n$body"
                     . "GET /second-$tag HTTP/1.1\r\nHost: example.test\r\n\r\n");
    like($answer, qr{\AHTTP/1\.1 400 }, "$what: 400");
    like($answer, qr{^Connection: close\r$}m, '  with Connection: close');
    is(responses($answer, '\d{3}'), 1, '  and one answer: nothing after the head is read as a request');
    is(origin_count($origin, "/refused-$tag") + origin_count($origin, "/second-$tag"), 0, '  and nothing reached the origin');
}
my $log = slurp($ae->{stderr_log});
like($log, qr/\[warn\] a request with both Content-Length and Transfer-Encoding refused: 400/, 'a refused head is logged');
like($log, qr/\[warn\] a request whose body framing or Expect cannot be read refused: 400/, 'so is a body h2o cannot read');

subtest 'well-formed requests around them still pass' => sub {
    my $answer = raw("POST /fine?echo=1 HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                     . "5\r\nhello\r\n0\r\n\r\n" . "GET /fine-too HTTP/1.1\r\nHost: example.test:$ae->{port}\r\n\r\n");
    is(responses($answer, 200), 2, 'a chunked POST and the GET after it on the same connection: 200 both');
    my ($echo) = $answer =~ /\r\n\r\n(POST \/fine.*?)(?=HTTP\/1\.1 |\z)/s;
    ok(defined $echo, 'the origin got the POST') or return diag($answer);
    like($echo, qr/^Content-Length: 5$/m, 'framed by anyedge: a Content-Length for the chunked body');
    unlike($echo, qr/^Transfer-Encoding/mi, 'no Transfer-Encoding to the origin');
    like(raw("GET /old HTTP/1.0\r\n\r\n"), qr{\AHTTP/1\.1 \d{3} }, 'HTTP/1.0 without Host is still answered');
};

subtest 'absolute-form targets, and spaces after a value' => sub {
    my $answer = raw("GET http://example.test/absolute?echo=1 HTTP/1.1\r\nHost: other.test\r\n\r\n");
    like($answer, qr{\AHTTP/1\.1 200 }, 'GET http://example.test/... with Host: other.test: 200 from example.test');
    like($answer, qr{^GET /absolute\?echo=1 HTTP/1\.1\r?$}m, 'the origin got the origin-form target');
    like($answer, qr{^Host: example\.test\r?$}m, 'and the URL\'s host, not the Host line');
    my $code = `curl -s -o /dev/null -w '%{http_code}' -x http://127.0.0.1:$ae->{port} http://example.test/absolute-curl`;
    is($code, '200', 'curl through anyedge as a proxy (absolute-form): 200');
    is(origin_count($origin, '/absolute-curl'), 1, '  and the origin saw /absolute-curl');
    like(raw("GET /trailing HTTP/1.1\r\nHost: example.test \t\r\n\r\n"), qr{\AHTTP/1\.1 200 }, 'Host: example.test followed by spaces: 200');
};

done_testing();
