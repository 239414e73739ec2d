# t/12-lifecycle.t -- the daemon's life: listeners on IPv6 and on an address that is not (yet) on
# any interface, a graceful stop that lets an in-flight response finish, SIGINT, the shipped
# configs, and a store LMDB cannot open.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);

my $origin = start_origin();
my @sites = ({ host => 'example.test', origin => $origin->{url} });

subtest 'IPv6 and not-yet-configured (anycast) addresses' => sub {
    my $v6_port = empty_port();
    # 203.0.113.7 is on no interface: binding it needs IP_FREEBIND; nothing is sent to it.
    my $ae = start_anyedge(sites => \@sites, extra_listen => [ "[::1]:$v6_port", '203.0.113.7:' . empty_port() ]);
    like(slurp($ae->{stderr_log}), qr/listening on 203\.0\.113\.7:/, 'bound the address before it exists');
    my $out = `curl -sS -g -o /dev/null -w '%{http_code} %header{x-cache}' -H 'Host: example.test' 'http://[::1]:$v6_port/v6?x=1'`;
    is($out, '200 MISS', 'served over IPv6');
    is(stop_anyedge($ae), 0, 'stopped');
};

subtest 'SIGTERM lets the response in flight finish, and refuses new connections' => sub {
    my $ae = start_anyedge(sites => \@sites);
    open(my $slow, '-|', 'curl', '-sS', '-o', '-', '-w', '\n%{http_code}', '-H', 'Host: example.test',
        "http://127.0.0.1:$ae->{port}/slow?delay=1.5&size=100000") or die "curl: $!";
    ok(wait_until(5, sub { origin_count($origin, '/slow?delay=1.5&size=100000') == 1 }), 'the slow request reached the origin');
    my $started = time;
    kill 'TERM', $ae->{pid};
    ok(wait_until(3, sub { !IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ae->{port}", Timeout => 1) }),
        'new connections are refused while draining');
    my $output = do { local $/; <$slow> };
    close $slow;
    my ($body, $status) = $output =~ /\A(.*)\n(\d+)\z/s;
    is($status, 200, 'the in-flight response completed');
    body_is($body, expected_body(100000), 'with its whole body');
    is(stop_anyedge($ae), 0, 'exit status 0 after the drain');
    cmp_ok(time - $started, '<', 5, 'and it did not wait for the shutdown timeout');
};

subtest 'SIGINT stops it too' => sub {
    my $ae = start_anyedge(sites => \@sites);
    is(http(port => $ae->{port}, host => 'example.test', path => '/int')->{status}, 200, 'serving');
    is(stop_anyedge($ae, 'INT'), 0, 'exit status 0');
};

subtest 'the shipped configs are valid' => sub {
    for my $conf ("$FindBin::Bin/../etc/anyedge.conf", "$FindBin::Bin/../etc/demo.conf") {
        my ($exit, $stderr) = run_anyedge_check($conf);
        is($exit, 0, "$conf passes -t") or diag $stderr;
    }
};

subtest 'a store LMDB cannot open stops the start with a clear error' => sub {
    my $dir = temp_dir();
    mkdir "$dir/cache" or die;
    open my $fh, '>', "$dir/cache/data.mdb" or die;
    print {$fh} "this is not an LMDB file\n" x 1000;
    close $fh;
    my $conf = write_config($dir, config_yaml(port => empty_port(), cache_path => "$dir/cache", sites => \@sites));
    my $result = run_anyedge('-c', $conf);
    is($result->{exit}, 1, 'exit status 1');
    like($result->{stderr}, qr/cannot open the cache store in \Q$dir\E\/cache: .*damaged/, 'says the store is damaged');
    is(-s "$dir/cache/data.mdb", 25000, 'and leaves the file as it was');
};

done_testing;
