# t/83-https-origin.t -- origins over HTTPS: SNI, the certificate verified by default (an untrusted
# one fails with 502, origin-ca-file makes it trusted, a name mismatch fails), origin-tls-verify:
# false, keep-alive over TLS, cached responses, config errors.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use POSIX qw(WNOHANG);
use Test::More;

plan skip_all => 'IO::Socket::SSL is not installed' unless eval { require IO::Socket::SSL; 1 };

my $dir = temp_dir();
# a CA, and the origin's certificate for origin.test and 127.0.0.1 signed by it
sub run { system(@_) == 0 or die "@_ failed\n" }
run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $dir/ca.key -out $dir/ca.crt -days 2 "
  . "-subj '/CN=test CA' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign 2>/dev/null");
run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $dir/origin.key -out $dir/origin.csr "
  . "-subj /CN=origin.test 2>/dev/null");
open my $ext, '>', "$dir/ext" or die;
print {$ext} "subjectAltName=DNS:origin.test,IP:127.0.0.1\n";
close $ext;
run("openssl x509 -req -in $dir/origin.csr -CA $dir/ca.crt -CAkey $dir/ca.key -CAcreateserial -out $dir/origin.crt -days 2 "
  . "-extfile $dir/ext 2>/dev/null");

my $port = empty_port();
my $log = "$dir/requests.log";
my $pid = fork // die;
if ($pid == 0) {
    open STDOUT, '>>', "$dir/origin.out";
    open STDERR, '>&', \*STDOUT;
    exec $^X, "$FindBin::Bin/tools/https-origin.pl", '--listen', "127.0.0.1:$port", '--cert', "$dir/origin.crt",
        '--key', "$dir/origin.key", '--log', $log;
    exit 127;
}
END { local $?; if ($pid) { kill 'TERM', $pid; waitpid $pid, 0 } }
wait_until(10, sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1) }) or die "the HTTPS origin did not start\n";

# The origin is reached at 127.0.0.1 (its certificate has that IP too); origin-server-name sends
# and checks a DNS name instead.
my @sites = (
    { host => 'named.test', origin => "https://127.0.0.1:$port",
      extra => { 'origin-ca-file' => "$dir/ca.crt", 'origin-server-name' => 'origin.test' } },
    { host => 'misnamed.test', origin => "https://127.0.0.1:$port",
      extra => { 'origin-ca-file' => "$dir/ca.crt", 'origin-server-name' => 'other.test' } },
    { host => 'trusted.test', origin => "https://127.0.0.1:$port", extra => { 'origin-ca-file' => "$dir/ca.crt" } },
    { host => 'untrusted.test', origin => "https://127.0.0.1:$port" },
    { host => 'noverify.test', origin => "https://127.0.0.1:$port", extra => { 'origin-tls-verify' => 'false' } },
    { host => 'wrongca.test', origin => "https://127.0.0.1:$port", extra => { 'origin-ca-file' => "$dir/origin.crt" } },
);
my $ae = start_anyedge(sites => \@sites);

subtest 'verified with origin-ca-file' => sub {
    my $r = http(port => $ae->{port}, host => 'trusted.test', path => '/t1');
    is($r->{status}, 200, '200 through the HTTPS origin');
    like($r->{body}, qr{\A/t1 sni=}, 'its body');
    is($r->{headers}{'x-cache'}, 'MISS', 'a MISS');
    is(http(port => $ae->{port}, host => 'trusted.test', path => '/t1')->{headers}{'x-cache'}, 'HIT', 'then a HIT');
    my @r = http_batch(port => $ae->{port}, host => 'trusted.test', paths => [ map { "/ka$_" } 1 .. 5 ]);
    is_deeply([ map { $_->{status} } @r ], [ (200) x 5 ], 'five more misses');
    my %conns = map { $_->{body} =~ /conn=(\d+)/ ? ($1 => 1) : () } @r;
    cmp_ok(scalar keys %conns, '<=', 2, 'over at most two TLS connections (the pool keeps them)');
};

subtest 'SNI and the certificate name' => sub {
    my $r = http(port => $ae->{port}, host => 'named.test', path => '/sni');
    is($r->{status}, 200, 'origin-server-name: origin.test is in the certificate: 200');
    like($r->{body}, qr{\A/sni sni=origin\.test }, 'and the origin saw it as the server name');
    like(http(port => $ae->{port}, host => 'trusted.test', path => '/sni-ip')->{body}, qr{sni=127\.0\.0\.1 },
         'without it, the URL\'s host (h2o sends even an IP address)');
    is(http(port => $ae->{port}, host => 'misnamed.test', path => '/m1')->{status}, 502, 'a name the certificate does not have: 502');
    like(slurp($ae->{stderr_log}), qr{misnamed\.test .*cannot connect to the origin \(hostname mismatch\)}, 'logged as a hostname mismatch');
};

subtest 'verification is on by default' => sub {
    my $r = http(port => $ae->{port}, host => 'untrusted.test', path => '/u1');
    is($r->{status}, 502, 'a certificate from an unknown CA: 502');
    like(slurp($ae->{stderr_log}), qr{untrusted\.test .*cannot connect to the origin \(unable to get local issuer certificate\)},
         'logged with the reason');
    is(scalar(grep { m{\A/u1 } } split /\n/, slurp($log)), 0, 'the request never reached the origin');
    is(http(port => $ae->{port}, host => 'wrongca.test', path => '/w1')->{status}, 502, 'a CA file without the issuer: 502');
};

subtest 'origin-tls-verify: false' => sub {
    my $r = http(port => $ae->{port}, host => 'noverify.test', path => '/n1');
    is($r->{status}, 200, 'any certificate is accepted');
};

is(stop_anyedge($ae), 0, 'stopped');

subtest 'config errors' => sub {
    my $check = sub {
        my ($site, $expected, $name) = @_;
        my $conf = write_config($dir, config_yaml(port => 1, cache_path => "$dir/c", sites => [ $site ]), 'bad.conf');
        my ($exit, $stderr) = run_anyedge_check($conf);
        like($stderr, qr{\A\Q$conf\E:\d+: $expected}, $name) or diag $stderr;
    };
    $check->({ host => 'a.test', origin => "https://127.0.0.1:$port", extra => { 'origin-ca-file' => "$dir/missing.crt" } },
             qr{'origin-ca-file': cannot read '\Q$dir\E/missing\.crt': No such file or directory}, 'a missing CA file');
    $check->({ host => 'a.test', origin => "https://127.0.0.1:$port", extra => { 'origin-ca-file' => "$dir/ext" } },
             qr{'origin-ca-file': '\Q$dir\E/ext' holds no PEM certificate}, 'a CA file without certificates');
    $check->({ host => 'a.test', origin => "http://127.0.0.1:$port", extra => { 'origin-ca-file' => "$dir/ca.crt" } },
             qr{site 'a\.test': 'origin-ca-file' needs an https:// origin}, 'a CA file for an http:// origin');
    $check->({ host => 'a.test', origin => "ftp://127.0.0.1:$port" }, qr{'origin': bad URL 'ftp://}, 'ftp://');
    $check->({ host => 'a.test', origin => "http://127.0.0.1:$port", extra => { 'origin-server-name' => 'x.test' } },
             qr{site 'a\.test': 'origin-server-name' needs an https:// origin}, 'a server name for an http:// origin');
};

done_testing();
