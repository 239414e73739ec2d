# t/78-proxy-protocol.t -- the client address: from a PROXY protocol line on a listener with
# `proxy-protocol: true` (plain and TLS), from X-Forwarded-For only when the peer is in
# `trusted-proxies`, and the same address in the access log and for the admin allow-list.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use Test::More;

my $dir = temp_dir();
my $origin = start_origin();
my $log = "$dir/access.log";
my ($pp_port, $pp_tls_port, $admin_port) = (empty_port(), empty_port(), empty_port());
system('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', "$dir/a.key",
       '-out', "$dir/a.crt", '-days', '2', '-subj', '/CN=a.test', '-addext', 'subjectAltName=DNS:a.test') == 0
    or die "openssl req failed\n";

my $ae = start_anyedge(
    sites => [ { host => 'a.test', origin => $origin->{url}, extra => { tls => { certificate => "$dir/a.crt", key => "$dir/a.key" } } } ],
    extra_listen => [ { address => "127.0.0.1:$pp_port", 'proxy-protocol' => 'true' },
                      { address => "127.0.0.1:$pp_tls_port", 'proxy-protocol' => 'true', tls => 'true' } ],
    extra_yaml => qq(log:\n  access: "$log"\n  format: json\n)
                . qq(trusted-proxies: [127.0.0.2/32, "10.0.0.0/8", "2001:db8::/32"]\n)
                . qq(admin:\n  listen: "127.0.0.1:$admin_port"\n  allow: [198.51.100.0/24]\n));

# The access log's entries for a URI (waits until there are $count).
sub logged {
    my ($uri, $count) = @_;
    my @entries;
    wait_until(5, sub {
        @entries = grep { $_->{uri} eq $uri } map { decode_json($_) } grep { /\S/ } split /\n/, slurp($log);
        return @entries >= ($count // 1);
    });
    return @entries;
}

# Sends raw bytes on a new connection to $port; the response (up to the close).
sub raw_request {
    my ($port, $bytes) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5) or die "connect: $!\n";
    print {$sock} $bytes;
    local $/;
    my $response = <$sock> // '';
    return $response;
}

subtest 'PROXY protocol' => sub {
    my $response = raw_request($pp_port, "PROXY TCP4 192.0.2.1 127.0.0.1 56324 $pp_port\r\n"
                                        . "GET /pp-v4 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
    like($response, qr{\AHTTP/1\.1 200 }, 'a request after a PROXY line is served');
    is((logged('/pp-v4'))[0]{client}, '192.0.2.1', 'the access log has the address of the PROXY line');

    raw_request($pp_port, "PROXY TCP6 2001:db8:1::7 ::1 56324 443\r\nGET /pp-v6 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
    is((logged('/pp-v6'))[0]{client}, '2001:db8:1::7', 'an IPv6 PROXY line too');

    # h2o (2.2.5) serves a connection whose first bytes are not a PROXY line as it is: the address is then the peer's own
    $response = raw_request($pp_port, "GET /pp-none HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
    like($response, qr{\AHTTP/1\.1 200 }, 'a connection without the PROXY line is served');
    is((logged('/pp-none'))[0]{client}, '127.0.0.1', 'as coming from its peer');

    my $out = `curl -sS -k --haproxy-protocol --http2 --resolve a.test:$pp_tls_port:127.0.0.1 -o /dev/null -w '%{http_version} %{http_code}' https://a.test:$pp_tls_port/pp-tls`;
    is($out, '2 200', 'PROXY line then TLS and HTTP/2 (curl --haproxy-protocol)');
    is((logged('/pp-tls'))[0]{client}, '127.0.0.1', 'with the address curl put in the line');

    $response = raw_request($ae->{port}, "PROXY TCP4 192.0.2.1 127.0.0.1 56324 80\r\nGET /pp-plain HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
    like($response, qr{\AHTTP/1\.1 400 }, 'a PROXY line on a listener that does not expect one is a bad request');
};

subtest 'X-Forwarded-For from trusted proxies only' => sub {
    my $xff = sub {
        my ($peer, $uri, @values) = @_;
        my $headers = join '', map { "X-Forwarded-For: $_\r\n" } @values;
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ae->{port}, LocalAddr => $peer, Timeout => 5)
            or die "connect from $peer: $!\n";
        print {$sock} "GET $uri HTTP/1.1\r\nHost: a.test\r\n${headers}Connection: close\r\n\r\n";
        local $/;
        my $response = <$sock>;
        return (logged($uri))[0]{client};
    };
    is($xff->('127.0.0.1', '/xff-untrusted', '198.51.100.7'), '127.0.0.1', 'from a peer that is not trusted: ignored');
    is($xff->('127.0.0.2', '/xff-one', '198.51.100.7'), '198.51.100.7', 'from a trusted proxy: the address it names');
    is($xff->('127.0.0.2', '/xff-chain', '203.0.113.9, 198.51.100.7, 10.1.2.3'), '198.51.100.7',
       'a chain: the right-most address that is not a trusted proxy');
    is($xff->('127.0.0.2', '/xff-headers', '203.0.113.9', '10.1.2.3'), '203.0.113.9', 'several headers are one list');
    is($xff->('127.0.0.2', '/xff-v6', '[2001:db9::5]:443'), '2001:db9::5', 'IPv6 in brackets, with a port');
    is($xff->('127.0.0.2', '/xff-garbage', '198.51.100.7, nonsense'), '127.0.0.2', 'garbage: the trusted peer itself');
    is($xff->('127.0.0.2', '/xff-none'), '127.0.0.2', 'no header: the peer');
};

subtest 'the admin allow-list uses the same address' => sub {
    my $status = sub {
        my ($peer, @headers) = @_;
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $admin_port, LocalAddr => $peer, Timeout => 5) or die;
        print {$sock} "GET /health HTTP/1.1\r\nHost: anyedge-admin\r\n" . join('', map { "$_\r\n" } @headers) . "Connection: close\r\n\r\n";
        local $/;
        my $response = <$sock> // '';
        return $response =~ m{\AHTTP/1\.1 (\d+)} ? $1 : 0;
    };
    is($status->('127.0.0.1'), 403, 'a peer outside admin.allow gets 403');
    is($status->('127.0.0.1', 'X-Forwarded-For: 198.51.100.7'), 403, 'also with X-Forwarded-For, when it is not trusted');
    is($status->('127.0.0.2', 'X-Forwarded-For: 198.51.100.7'), 200, 'a trusted proxy forwarding an allowed client: allowed');
};

subtest 'bad trusted-proxies' => sub {
    my $conf = write_config($dir, config_yaml(port => 1, cache_path => "$dir/c", sites => [ { host => 'a.test', origin => $origin->{url} } ],
                                              extra_yaml => "trusted-proxies: [10.0.0.0/33]\n"), 'bad.conf');
    my ($exit, $stderr) = run_anyedge_check($conf);
    like($stderr, qr{\A\Q$conf\E:\d+: 'trusted-proxies': bad network '10\.0\.0\.0/33'}, 'a prefix too long is an error');
};

is(stop_anyedge($ae), 0, 'stopped');
done_testing();
