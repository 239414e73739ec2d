# t/86-smuggling.t -- request framing that could desynchronise a proxy and its origin. Refused with
# 400 before anything reaches the origin: an unknown or doubled transfer coding, a malformed
# Content-Length. And whatever the client's framing, the origin gets anyedge's own: one request
# with a Content-Length for the body anyedge read, never the client's Transfer-Encoding, so bytes
# a client hides in a body never become a request of their own at the origin.
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

my @refused = (
    ['unknown transfer coding', "Transfer-Encoding: xchunked\r\n\r\nhello"],
    ['chunked not the only coding', "Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n"],
    ['a signed Content-Length', "Content-Length: +5\r\n\r\nhello"],
    ['a Content-Length that is not a number', "Content-Length: 5x\r\n\r\nhello"],
);
for my $case (@refused) {
    my ($what, $rest) = @$case;
    (my $tag = $what) =~ s/\W+/-/g;
    my $answer = raw("POST /refused-$tag HTTP/1.1\r\nHost: example.test\r\n$rest");
    like($answer, qr{\AHTTP/1\.1 400 }, "$what: 400");
    is(origin_count($origin, "/refused-$tag"), 0, "  and nothing reached the origin");
}

subtest 'Content-Length and Transfer-Encoding together' => sub {
    my $answer = raw("POST /both?echo=1 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n"
                     . "0\r\n\r\nGET /hidden HTTP/1.1\r\nHost: example.test\r\n\r\n");
    my ($echo) = $answer =~ /\r\n\r\n(POST \/both.*?)(?=HTTP\/1\.1 |\z)/s;
    ok(defined $echo, 'the origin got the POST') or return diag($answer);
    like($echo, qr/^Content-Length: 0$/m, 'framed by anyedge: the chunked body (empty), not the 40 bytes the client claimed');
    unlike($echo, qr/^Transfer-Encoding/mi, 'no Transfer-Encoding to the origin');
    unlike($echo, qr/GET \/hidden/, 'the hidden bytes are not in the body the origin got');
};

done_testing();
