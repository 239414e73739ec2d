# t/77-tls.t -- TLS listeners: certificates chosen by SNI (per site, a wildcard, RSA and ECDSA on one
# site), TLS 1.2 and 1.3 only (1.1 refused; tls.min-version), session resumption with tickets and
# the rotation of their keys (tls.ticket-rotation), ALPN h2 with cache hits over HTTP/2, h2load
# over h2 and h2c prior knowledge on a plain listener, an OCSP response stapled from a file, and
# the start-up errors for certificates and keys.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;
use Time::HiRes ();

for my $tool (qw(openssl h2load)) {
    plan skip_all => "$tool is not installed" unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}

my $dir = temp_dir();

# A self-signed certificate and its key: type rsa or ec, the subject's CN, the DNS names.
sub certificate {
    my ($name, $type, $cn, @dns) = @_;
    my @key = $type eq 'rsa' ? ('-newkey', 'rsa:2048') : ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256');
    my ($crt, $key) = ("$dir/$name.crt", "$dir/$name.key");
    system('openssl', 'req', '-x509', @key, '-nodes', '-keyout', $key, '-out', $crt, '-days', '2', '-subj', "/CN=$cn",
           '-addext', 'subjectAltName=' . join(',', map { "DNS:$_" } @dns), '-addext', 'basicConstraints=critical,CA:TRUE',
           '-addext', 'keyUsage=digitalSignature,keyCertSign') == 0
        or die "openssl req failed for $name\n";
    return ($crt, $key);
}

my ($a_rsa, $a_rsa_key) = certificate('a-rsa', 'rsa', 'a.test rsa', 'a.test');
my ($a_ec, $a_ec_key) = certificate('a-ec', 'ec', 'a.test ecdsa', 'a.test');
my ($b_crt, $b_key) = certificate('b', 'rsa', 'b.test', 'b.test', 'alias-b.test');
my ($w_crt, $w_key) = certificate('wild', 'ec', 'wildcard', '*.wild.test');

# The OCSP response stapled for b.test: b's own responder signs "good" for its certificate.
system("cd $dir && touch index.txt && printf 'V\\t300101000000Z\\t\\t%s\\tunknown\\t/CN=b.test\\n' "
     . "\$(openssl x509 -in $b_crt -noout -serial | cut -d= -f2) > index.txt && "
     . "openssl ocsp -index index.txt -rsigner $b_crt -rkey $b_key -CA $b_crt -issuer $b_crt -cert $b_crt "
     . "-respout b.ocsp -ndays 1 >/dev/null 2>&1") == 0 or die "cannot make an OCSP response\n";

my $origin = start_origin();
my $tls_port = empty_port();
my @sites = (
    { host => 'a.test', origin => $origin->{url}, extra => { tls => { certificate => "[$a_rsa, $a_ec]", key => "[$a_rsa_key, $a_ec_key]" } } },
    { host => 'b.test', aliases => ['alias-b.test'], origin => $origin->{url},
      extra => { tls => { certificate => $b_crt, key => $b_key, 'ocsp-response' => "$dir/b.ocsp" } } },
    { host => 'www.wild.test', origin => $origin->{url}, extra => { tls => { certificate => $w_crt, key => $w_key } } },
);
my $ae = start_anyedge(sites => \@sites, extra_listen => [ { address => "127.0.0.1:$tls_port", tls => 'true' } ]);

# `openssl s_client` to the TLS listener with @options; its whole output.
sub s_client {
    my (@options) = @_;
    open my $fh, '-|', 'sh', '-c', 'echo | timeout 10 openssl s_client -connect "$0" "$@" 2>&1', "127.0.0.1:$tls_port", @options
        or die "openssl: $!\n";
    local $/;
    return scalar <$fh>;
}

sub subject_of {
    my ($output) = @_;
    return $output =~ /^subject=.*?CN ?= ?([^,\n]+)/m ? $1 : 'none';
}

subtest 'certificates by SNI' => sub {
    like(subject_of(s_client('-servername', 'a.test')), qr/\Aa\.test (rsa|ecdsa)\z/, 'a.test: one of its certificates');
    is(subject_of(s_client('-servername', 'b.test')), 'b.test', 'b.test: its certificate');
    is(subject_of(s_client('-servername', 'ALIAS-B.test.')), 'b.test', 'an alias, in capitals with a trailing dot: the site\'s certificate');
    is(subject_of(s_client('-servername', 'www.wild.test')), 'wildcard', 'www.wild.test: the wildcard certificate');
    is(subject_of(s_client('-servername', 'other.wild.test')), 'wildcard', 'a name only the wildcard covers: the wildcard certificate');
    like(subject_of(s_client('-servername', 'a.b.wild.test')), qr/\Aa\.test /, 'the wildcard covers one label only: the default');
    like(subject_of(s_client('-noservername')), qr/\Aa\.test /, 'no SNI: the first site\'s certificate');
    my $r = `curl -sS --cacert $b_crt --resolve b.test:$tls_port:127.0.0.1 -w ' %{http_code}' https://b.test:$tls_port/verified`;
    like($r, qr/ 200\z/, 'curl verifies b.test\'s certificate against it and gets 200');
};

subtest 'RSA and ECDSA on one site' => sub {
    like(s_client('-servername', 'a.test', '-tls1_2', '-sigalgs', 'ECDSA+SHA256'), qr/^subject=.*a\.test ecdsa/m,
         'a client that signs only with ECDSA gets the ECDSA certificate');
    like(s_client('-servername', 'a.test', '-tls1_2', '-sigalgs', 'RSA+SHA256:RSA-PSS+SHA256'), qr/^subject=.*a\.test rsa/m,
         'one that signs only with RSA gets the RSA certificate');
    like(s_client('-servername', 'a.test', '-tls1_3', '-sigalgs', 'ecdsa_secp256r1_sha256'), qr/^subject=.*a\.test ecdsa/m,
         'also with TLS 1.3');
};

subtest 'TLS versions' => sub {
    my $old = s_client('-servername', 'a.test', '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0');
    like($old, qr/Cipher is \(NONE\)/, 'TLS 1.1 is refused');
    unlike($old, qr/^subject=/m, 'no certificate was sent');
    like(s_client('-servername', 'a.test', '-tls1_2'), qr/New, TLSv1\.2, Cipher is ECDHE-/, 'TLS 1.2 with an ECDHE cipher');
    like(s_client('-servername', 'a.test', '-tls1_3'), qr/New, TLSv1\.3, Cipher is TLS_/, 'TLS 1.3');
    like(s_client('-servername', 'a.test', '-tls1_2', '-cipher', 'AES128-SHA'), qr/Cipher is \(NONE\)/,
         'TLS 1.2 without forward secrecy (AES128-SHA) is refused');
};

subtest 'session resumption with tickets' => sub {
    my $session = "$dir/session.pem";
    like(s_client('-servername', 'b.test', '-tls1_2', '-sess_out', $session), qr/New, TLSv1\.2/, 'a full handshake');
    ok(-s $session, 'the client kept the session');
    like(s_client('-servername', 'b.test', '-tls1_2', '-sess_in', $session), qr/Reused, TLSv1\.2/, 'the next one resumes it');
    my $out = s_client('-servername', 'b.test', '-tls1_2', '-sess_in', $session, '-no_ticket');
    like($out, qr/New, TLSv1\.2/, 'there is no session cache: without tickets nothing is resumed');
};

subtest 'OCSP stapling from a file' => sub {
    like(s_client('-servername', 'b.test', '-status'), qr/OCSP Response Status: successful/, 'b.test staples its response');
    like(s_client('-servername', 'a.test', '-status'), qr/OCSP response: no response sent/, 'a.test has none');
};

subtest 'ALPN: h2 and http/1.1' => sub {
    my $v = `curl -sS -v -k --http2 --resolve a.test:$tls_port:127.0.0.1 -o /dev/null -w '%{http_version}' https://a.test:$tls_port/alpn 2>&1`;
    like($v, qr/ALPN: server accepted h2/, 'the server accepts h2');
    like($v, qr/2\z/, 'and the response came over HTTP/2');
    like(s_client('-servername', 'a.test', '-alpn', 'http/1.1'), qr{ALPN protocol: http/1\.1}, 'http/1.1 when the client offers only that');
    my $h1 = `curl -sS -k --http1.1 --resolve a.test:$tls_port:127.0.0.1 -o /dev/null -w '%{http_version} %{http_code}' https://a.test:$tls_port/h1`;
    is($h1, '1.1 200', 'and HTTP/1.1 works over TLS');
};

subtest 'cache hits over HTTP/2' => sub {
    my @got = map {
        `curl -sS -k --http2 --resolve b.test:$tls_port:127.0.0.1 -o /dev/null -w '%{http_version} %{http_code} %header{x-cache}' 'https://b.test:$tls_port/h2-hit?size=5000'`
    } 1 .. 2;
    is($got[0], '2 200 MISS', 'the first request over h2 is a MISS');
    is($got[1], '2 200 HIT', 'the second a HIT');
    is(origin_count($origin, '/h2-hit?size=5000'), 1, 'the origin saw one request');
    my $body = `curl -sS -k --http2 --resolve b.test:$tls_port:127.0.0.1 'https://b.test:$tls_port/h2-hit?size=5000'`;
    body_is($body, expected_body(5000), 'the hit\'s body is whole');
};

subtest 'h2load over h2, and h2c prior knowledge on the plain listener' => sub {
    my $out = `h2load -n 400 -c 4 -m 8 -H ':authority: a.test' 'https://127.0.0.1:$tls_port/h2load?size=2000' 2>&1`;
    like($out, qr/Application protocol: h2\b/, 'h2load speaks h2');
    like($out, qr/requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored, 0 timeout/, '400 requests, no errors')
        or diag $out;
    like($out, qr/status codes: 400 2xx/, 'all 2xx');
    $out = `h2load -n 100 -c 2 -H ':authority: a.test' 'http://127.0.0.1:$ae->{port}/h2c' 2>&1`;
    like($out, qr/Application protocol: h2c/, 'h2c with prior knowledge on the plain listener');
    like($out, qr/100 succeeded, 0 failed, 0 errored/, '100 requests, no errors') or diag $out;
    my $v = `curl -sS --http2-prior-knowledge -H 'Host: a.test' -o /dev/null -w '%{http_version} %{http_code}' http://127.0.0.1:$ae->{port}/h2c-curl`;
    is($v, '2 200', 'curl --http2-prior-knowledge');
    $v = `curl -sS --http2 -H 'Host: a.test' -o /dev/null -w '%{http_version} %{http_code}' http://127.0.0.1:$ae->{port}/h2c-upgrade`;
    is($v, '2 200', 'and Upgrade: h2c (curl --http2 on http://)');
};

subtest 'tls.min-version: 1.3' => sub {
    my $port = empty_port();
    my $ae13 = start_anyedge(sites => [ $sites[1] ], extra_listen => [ { address => "127.0.0.1:$port", tls => 'true' } ],
                             extra_yaml => "tls:\n  min-version: \"1.3\"\n");
    my $out = `echo | timeout 10 openssl s_client -connect 127.0.0.1:$port -servername b.test -tls1_2 2>&1`;
    like($out, qr/Cipher is \(NONE\)/, 'TLS 1.2 is refused');
    $out = `echo | timeout 10 openssl s_client -connect 127.0.0.1:$port -servername b.test 2>&1`;
    like($out, qr/New, TLSv1\.3/, 'TLS 1.3 is accepted');
    is(stop_anyedge($ae13), 0, 'stopped');
};

subtest 'ticket keys rotate (tls.ticket-rotation)' => sub {
    my $port = empty_port();
    my $aer = start_anyedge(sites => [ $sites[1] ], extra_listen => [ { address => "127.0.0.1:$port", tls => 'true' } ],
                            extra_yaml => "tls:\n  ticket-rotation: 3s\n");
    my $handshake = sub {
        my ($sessions) = @_;
        return `echo | timeout 10 openssl s_client -connect 127.0.0.1:$port -servername b.test -tls1_2 $sessions 2>&1`;
    };
    my $sleep_until = sub { my ($t) = @_; my $left = $t - Time::HiRes::time(); Time::HiRes::sleep($left) if $left > 0 };
    # Tickets live at most two rotations; a session also lasts at most two rotations from its full
    # handshake (the SSL_CTX timeout), so the ticket made at 2 s (5.5 s old at the end, under the
    # first key) tells the key's end apart from the session's.
    my ($at0, $at2, $at4) = map { "$dir/rotation-$_.pem" } qw(0 2 4);
    my $t0 = Time::HiRes::time();
    like($handshake->("-sess_out $at0"), qr/New, TLSv1\.2/, 'a full handshake: the first ticket key is made now');
    like($handshake->("-sess_in $at0"), qr/Reused, TLSv1\.2/, 'its ticket resumes at once');
    $sleep_until->($t0 + 2);
    like($handshake->("-sess_out $at2"), qr/New, TLSv1\.2/, 'another full handshake at 2 s, still under the first key');
    $sleep_until->($t0 + 4);
    like($handshake->("-sess_in $at0"), qr/Reused, TLSv1\.2/, 'one rotation later (4 s) the first ticket still resumes');
    like($handshake->("-sess_out $at4"), qr/New, TLSv1\.2/, 'a full handshake at 4 s, under the second key');
    $sleep_until->($t0 + 7.5);
    like($handshake->("-sess_in $at2"), qr/New, TLSv1\.2/, 'two rotations later (7.5 s) a ticket under the first key does not');
    like($handshake->("-sess_in $at4"), qr/Reused, TLSv1\.2/, 'one under the second key still does');
    is(stop_anyedge($aer), 0, 'stopped');
    my ($exit, $stderr) = run_anyedge_check(write_config($dir, config_yaml(
        sites => [ $sites[1] ], port => empty_port(), cache_path => "$dir/unused", extra_yaml => "tls:\n  ticket-rotation: 500ms\n"),
        'rotation.conf'));
    is($exit, 1, 'a rotation under a second: anyedge -t fails');
    like($stderr, qr/:\d+: 'tls\.ticket-rotation': whole seconds from 1s to 7d/, '  with FILE:LINE');
};

subtest 'start-up errors for certificates and keys' => sub {
    my $cdir = temp_dir();
    my $check = sub {
        my ($tls, $listen_tls, $expected, $name) = @_;
        my $conf = write_config($cdir, config_yaml(
            port => 1, cache_path => "$cdir/cache", extra_listen => $listen_tls ? [ { address => '127.0.0.1:2', tls => 'true' } ] : [],
            sites => [ { host => 'a.test', origin => $origin->{url}, extra => $tls ? { tls => $tls } : {} } ]));
        my ($exit, $stderr) = run_anyedge_check($conf);
        is($exit, 1, "$name: -t fails");
        like($stderr, qr{\A\Q$conf\E:\d+: $expected}, "$name: FILE:LINE and the reason") or diag $stderr;
    };
    open my $fh, '>', "$cdir/garbage.pem" or die;
    print {$fh} "not a certificate\n";
    close $fh;
    $check->({ certificate => "$cdir/missing.crt", key => $a_rsa_key }, 1,
             qr{'tls\.certificate': cannot load '\Q$cdir\E/missing\.crt': No such file or directory}, 'a missing certificate');
    $check->({ certificate => "$cdir/garbage.pem", key => $a_rsa_key }, 1,
             qr{'tls\.certificate': cannot load '\Q$cdir\E/garbage\.pem': }, 'a file that is no certificate');
    $check->({ certificate => $a_rsa, key => "$cdir/missing.key" }, 1,
             qr{'tls\.key': cannot load '\Q$cdir\E/missing\.key': No such file or directory}, 'a missing key');
    $check->({ certificate => $a_rsa, key => $b_key }, 1,
             qr{'tls\.key': '\Q$b_key\E' does not match the certificate '\Q$a_rsa\E'}, 'an RSA key of another certificate');
    $check->({ certificate => $a_rsa, key => $a_ec_key }, 1,
             qr{'tls\.key': '\Q$a_ec_key\E' does not match the certificate '\Q$a_rsa\E'}, 'an ECDSA key for an RSA certificate');
    $check->({ certificate => "[$a_rsa, $a_ec]", key => $a_rsa_key }, 1,
             qr{site 'a\.test': 2 'tls\.certificate' files but 1 'tls\.key' files}, 'fewer keys than certificates');
    $check->(undef, 1, qr{listen '127\.0\.0\.1:2' has 'tls: true' but no site has a 'tls\.certificate'}, 'a TLS listener without certificates');
    $check->({ certificate => $b_crt, key => $b_key, 'ocsp-response' => $b_crt }, 0,
             qr{'tls\.ocsp-response': '\Q$b_crt\E' is not a DER OCSP response}, 'an OCSP response that is none');
    my $conf = write_config($cdir, "listen:\n  - {address: \"127.0.0.1:1\", tls: maybe}\n", 'bad.conf');
    my ($exit, $stderr) = run_anyedge_check($conf);
    like($stderr, qr{\A\Q$conf\E:2: 'listen\.tls': unknown value 'maybe'}, 'a listen entry\'s tls must be a boolean');
    $conf = write_config($cdir, "listen:\n  - {adress: \"127.0.0.1:1\"}\n", 'typo.conf');
    ($exit, $stderr) = run_anyedge_check($conf);
    like($stderr, qr{\A\Q$conf\E:2: unknown key 'adress' in a listen entry}, 'a listen entry with an unknown key');
};

is(stop_anyedge($ae), 0, 'stopped cleanly');
done_testing();
