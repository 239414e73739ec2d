# t/21-forwarding.t -- what the daemon sends to the origin: method, path and
# query, request headers (hop-by-hop ones dropped, X-Forwarded-For,
# X-Forwarded-Proto and Via added), and request bodies of methods that are
# passed through uncached.  The origin's echo=1 replies show what it received.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ]);
my %site = (port => $ae->{port}, host => 'example.test');

# Make a request through the daemon; the request as the origin received it.
sub forwarded {
    my (%args) = @_;
    my $r = http(%site, %args);
    is($r->{status}, 200, "$args{path}: status 200");
    return parse_echo($r->{body});
}

subtest 'method, path and query' => sub {
    my $path = '/fwd/a%20b?x=%2F&y=1&echo=1&cc=';
    my $echo = forwarded(path => $path);
    is($echo->{method}, 'GET', 'method');
    is($echo->{uri}, $path, 'path and query unchanged');
};

# Each case: request headers to send, and the names of those that must not
# reach the origin.  An end-to-end header is sent along and must arrive.
my @HOP_BY_HOP = (
    [ 'header named in Connection' => ['Connection: X-Hop-Custom', 'X-Hop-Custom: 1'], ['x-hop-custom'] ],
    [ 'Keep-Alive'       => ['Keep-Alive: timeout=5'],       ['keep-alive'] ],
    [ 'TE'               => ['TE: trailers'],                ['te'] ],
    [ 'Proxy-Connection' => ['Proxy-Connection: keep-alive'], ['proxy-connection'] ],
    [ 'Upgrade'          => ['Upgrade: example/1'],          ['upgrade'] ],
);
for my $case (@HOP_BY_HOP) {
    my ($name, $headers, $dropped) = @$case;
    subtest "hop-by-hop: $name" => sub {
        my $echo = forwarded(path => '/hop?echo=1&cc=',
                             headers => [@$headers, 'X-End-To-End: kept']);
        ok(!exists $echo->{header}{$_}, "$_ not forwarded") for @$dropped;
        unlike($echo->{header}{connection} // '', qr/x-hop-custom/i,
               'Connection does not name the dropped header');
        is($echo->{header}{'x-end-to-end'}, 'kept', 'end-to-end header forwarded');
    };
}

subtest 'headers added' => sub {
    my $echo = forwarded(path => '/added?echo=1&cc=');
    is($echo->{header}{'x-forwarded-for'}, '127.0.0.1', 'X-Forwarded-For');
    is($echo->{header}{'x-forwarded-proto'}, 'http', 'X-Forwarded-Proto');
    is($echo->{header}{via}, '1.1 anyedge', 'Via');
};

subtest 'headers appended to, or replaced' => sub {
    my $echo = forwarded(path => '/appended?echo=1&cc=',
                         headers => ['X-Forwarded-For: 192.0.2.1', 'Via: 1.0 upstream', 'X-Forwarded-Proto: https',
                                     'Cache-Status: forged; hit']);
    is($echo->{header}{'x-forwarded-for'}, '127.0.0.1', "X-Forwarded-For: an untrusted client's own is replaced");
    is($echo->{header}{'x-forwarded-proto'}, 'http', "X-Forwarded-Proto: the client's is replaced");
    ok(!exists $echo->{header}{'cache-status'}, "Cache-Status: the client's is not passed on");
    is($echo->{header}{via}, '1.0 upstream, 1.1 anyedge', 'Via: appended to');

    my $trusting = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ],
                                 extra_yaml => "trusted-proxies: [127.0.0.0/8]\n");
    my $r = http(port => $trusting->{port}, host => 'example.test', path => '/appended-trusted?echo=1&cc=',
                 headers => ['X-Forwarded-For: 192.0.2.1']);
    is(parse_echo($r->{body})->{header}{'x-forwarded-for'}, '192.0.2.1, 127.0.0.1', 'from a trusted proxy: extended');

    my @forged = ('X-Forwarded-Host: evil.test', 'X-Forwarded-Port: 8443', 'X-Forwarded-Scheme: https',
                  'Forwarded: for=192.0.2.1;host=evil.test;proto=https', 'X-Real-IP: 192.0.2.1');
    my $untrusted = forwarded(path => '/forged?echo=1&cc=', headers => \@forged);
    for my $name (qw(x-forwarded-host x-forwarded-port x-forwarded-scheme forwarded x-real-ip)) {
        ok(!exists $untrusted->{header}{$name}, "$name: an untrusted client's is not passed on");
    }
    $r = http(port => $trusting->{port}, host => 'example.test', path => '/forged-trusted?echo=1&cc=', headers => \@forged);
    my $via_proxy = parse_echo($r->{body})->{header};
    is(join(' | ', map { $via_proxy->{$_} // 'none' } qw(x-forwarded-host forwarded x-real-ip)),
       'evil.test | for=192.0.2.1;host=evil.test;proto=https | 192.0.2.1', 'from a trusted proxy they are');
};

# Methods other than GET and HEAD reach the origin with their body every time
# and their responses (cacheable as far as the origin is concerned) are not
# stored.
my @PASSED = (
    [ POST   => 'a=1&b=2' ],
    [ PUT    => expected_body(100_000) ],
    [ DELETE => undef ],
);
for my $case (@PASSED) {
    my ($method, $data) = @$case;
    subtest "$method is passed through" => sub {
        my $path = "/method?m=$method&echo=1";
        for my $attempt (1, 2) {
            my $r = http(%site, path => $path, method => $method, data => $data);
            is($r->{status}, 200, "request $attempt: status 200");
            is($r->{headers}{'x-cache'}, 'PASS', "request $attempt: X-Cache: PASS");
            my $echo = parse_echo($r->{body});
            is($echo->{method}, $method, "request $attempt: method forwarded");
            body_is($echo->{body}, $data // '', "request $attempt: body forwarded");
        }
        is(origin_count($origin, $path), 2, 'origin contacted each time');
        ok(settle_cache(%site), 'cache settled');
        my $get = http(%site, path => $path);
        is($get->{headers}{'x-cache'}, 'MISS', "GET of the same URL is a MISS");
        is(parse_echo($get->{body})->{method}, 'GET', 'and gets a GET response');
    };
}

subtest 'chunked request body' => sub {
    my $data = expected_body(50_000);
    my $echo = forwarded(path => '/chunked-upload?echo=1', method => 'POST', data => $data,
                         headers => ['Transfer-Encoding: chunked']);
    body_is($echo->{body}, $data, 'body forwarded');
};

done_testing;
