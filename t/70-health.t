# t/70-health.t -- the node's health through the admin listener and the exec
# announcer, with a real origin: the route is announced once the checks have
# risen, withdrawn when the origin goes away, on a drain (file, command,
# SIGUSR2), under overload, and on SIGTERM before the listeners close (which
# keep serving for health.drain-timeout); `anyedge withdraw` runs the announcer
# directly.  The exec announcer is a shell script that logs each call.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time sleep);
use Test::More;

my $dir = temp_dir();
my $calls = "$dir/announcer.log";
my $script = "$dir/announce.sh";
open my $fh, '>', $script or die;
print $fh qq{#!/bin/sh\necho "\$1 \$ANYEDGE_PREFIXES" >> "$calls"\n};
close $fh;
chmod 0755, $script;

my $origin = start_origin();
my $admin_port = AnyEdgeTest::empty_port();
my $drain_file = "$dir/drain";
my $health_yaml = <<"YAML";
admin:
  listen: "127.0.0.1:$admin_port"
health:
  rise: 2
  fall: 1
  drain-file: "$drain_file"
  drain-timeout: 2s
  max-in-flight: 3
  checks:
    self: { interval: 200ms }
    origins: { interval: 200ms, timeout: 500ms }
    store: { interval: 200ms }
    workers: { interval: 200ms, timeout: 600ms }
    load: { interval: 200ms }
  announcer:
    driver: exec
    command: "$script"
    prefixes: [203.0.113.7/32, "2001:db8::7/128"]
    interval: 200ms
YAML
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ], extra_yaml => $health_yaml);

sub health {
    # a short limit: with a worker stopped, a connection may land on it
    my $r = http(port => $admin_port, path => '/health', max_time => 1);
    my $json = eval { decode_json($r->{body}) } // { state => 'no answer' };
    return ($r->{status}, $json);
}

# Waits until /health shows the state; returns the seconds it took (undef if it did not).
sub wait_state {
    my ($state, $timeout) = @_;
    my $start = time;
    return wait_until($timeout // 10, sub { (health())[1]{state} eq $state }) ? time - $start : undef;
}

sub calls { my @lines = split /\n/, (-e $calls ? slurp($calls) : ''); return \@lines }
sub last_call { my $c = calls(); return $c->[-1] // '' }

subtest 'announced once the checks have risen' => sub {
    ok(defined wait_state('up'), 'state up');
    my ($status, $json) = health();
    is($status, 200, '/health answers 200 when up');
    ok($json->{announce}, 'announce: true');
    is_deeply([ map { $_->{name} } @{ $json->{checks} } ], [qw(workers self origins store load)], 'every check is listed');
    ok(!grep({ $_->{last} ne 'pass' } @{ $json->{checks} }), 'all passing') or diag(explain($json->{checks}));
    ok(wait_until(5, sub { last_call() eq 'announce 203.0.113.7/32 2001:db8::7/128' }), 'the announcer ran: announce, with the prefixes')
        or diag(explain(calls()));
    is(scalar(grep { /^announce/ } @{ calls() }), 1, 'once');
    is(http(port => $ae->{port}, host => 'example.test', path => '/x')->{status}, 200, 'the site is served');
    my $admin_site = http(port => $admin_port, host => 'example.test', path => '/x');
    is($admin_site->{status}, 404, 'the admin listener does not serve sites');
    like(http(port => $ae->{port}, host => 'example.test', path => '/health')->{body}, qr/hello from demo origin: \/health/,
         'and /health on the public listener is the site\'s own path');
};

subtest 'the origin goes away: withdrawn; it comes back: announced' => sub {
    kill 'TERM', $origin->{pid};
    waitpid $origin->{pid}, 0;
    my $took = wait_state('down', 10);
    ok(defined $took, 'down') and note(sprintf 'origin gone -> down in %.2fs', $took);
    my ($status, $json) = health();
    is($status, 503, '/health answers 503');
    my ($origins) = grep { $_->{name} eq 'origins' } @{ $json->{checks} };
    like($origins->{detail}, qr/0 of 1 reachable/, 'the origins check says why');
    ok(wait_until(5, sub { last_call() =~ /^withdraw / }), 'the announcer ran: withdraw');
    $origin = start_origin(port => $origin->{port});
    ok(defined wait_state('up', 10), 'up again once the origin is back');
    ok(wait_until(5, sub { last_call() =~ /^announce / }), 'announced again');
};

subtest 'drain file, drain command, undrain' => sub {
    my $r = run_anyedge('drain', '-c', $ae->{conf});
    is($r->{exit}, 0, 'anyedge drain exits 0') or diag($r->{stderr});
    ok(-e $drain_file, 'it created the drain file');
    ok(defined wait_state('draining', 5), 'draining');
    ok(wait_until(5, sub { last_call() =~ /^withdraw / }), 'withdrawn');
    is(http(port => $ae->{port}, host => 'example.test', path => '/during-drain')->{status}, 200, 'still serving while drained');
    $r = run_anyedge('undrain', '-c', $ae->{conf});
    is($r->{exit}, 0, 'anyedge undrain exits 0');
    ok(!-e $drain_file, 'the drain file is gone');
    ok(defined wait_state('up', 10), 'up again after rising');
    ok(wait_until(5, sub { last_call() =~ /^announce / }), 'announced again');
};

subtest 'overload: more in flight than health.max-in-flight' => sub {
    my @slow = map { AnyEdgeTest::_curl_start(port => $ae->{port}, host => 'example.test',
                                             paths => ["/slow-$_?delay=3"]) } 1 .. 5;
    ok(defined wait_state('down', 5), 'down while 5 requests are in flight (at most 3)');
    my ($status, $json) = health();
    my ($load) = grep { $_->{name} eq 'load' } @{ $json->{checks} };
    like($load->{detail}, qr/in flight \(at most 3\)/, 'the load check says why');
    AnyEdgeTest::_curl_finish($_) for @slow;
    ok(defined wait_state('up', 10), 'up again when they are done');
};

# Stops one thread of the daemon (not the others) with ptrace: PTRACE_SEIZE, then
# PTRACE_INTERRUPT; PTRACE_DETACH lets it run again.  x86_64 syscall numbers.
sub freeze_thread {
    my $tid = $_[0] + 0;  # a number: syscall passes strings as pointers
    syscall(101, 0x4206, $tid, 0, 0) == 0 or die "PTRACE_SEIZE $tid: $!";
    syscall(101, 0x4207, $tid, 0, 0) == 0 or die "PTRACE_INTERRUPT $tid: $!";
    waitpid($tid, 0x40000000) == $tid or die "waitpid $tid: $!";  # __WALL: until it has stopped
}
sub thaw_thread { my $tid = $_[0] + 0; syscall(101, 17, $tid, 0, 0) == 0 or die "PTRACE_DETACH $tid: $!" }

SKIP: {
    skip 'needs root and x86_64 (ptrace stops one worker thread)', 1 if $> != 0 || `uname -m` !~ /x86_64/;
    subtest 'a stuck worker: withdrawn; unstuck: announced' => sub {
        my ($tid) = grep { (slurp("/proc/$ae->{pid}/task/$_/comm") =~ s/\s+\z//r) eq 'anyedge-w1' }
                    map { m{/(\d+)\z} } glob "/proc/$ae->{pid}/task/*";
        ok($tid, 'worker thread 1 found by its name') or return;
        ok(defined wait_state('up', 10), 'up');
        my $frozen = time;
        freeze_thread($tid);
        ok(wait_until(5, sub { last_call() =~ /^withdraw / }), 'worker 1 stopped: withdrawn')
            and note(sprintf 'stuck worker -> withdrawn in %.2fs', time - $frozen);
        # /health is answered by the other worker (a connection that lands on the stopped one times out)
        my $workers_detail = sub {
            my $json = (health())[1];
            return $json->{state} eq 'down' && join '', map { $_->{detail} } grep { $_->{name} eq 'workers' } @{ $json->{checks} // [] };
        };
        my $detail;
        ok(wait_until(8, sub { ($detail = $workers_detail->() || '') =~ /worker 1 stuck for \d+ ms/ }),
           '/health says down, and the workers check names the stuck worker') or diag($detail);
        thaw_thread($tid);
        ok(defined wait_state('up', 10), 'running again: up');
        ok(wait_until(5, sub { last_call() =~ /^announce / }), 'announced again');
    };
}

subtest 'a crash (kill -9) leaves the route; anyedge withdraw takes it away' => sub {
    ok(wait_until(5, sub { last_call() =~ /^announce / }), 'announced');
    kill_anyedge_hard($ae);
    is(last_call(), 'announce 203.0.113.7/32 2001:db8::7/128', 'a killed daemon withdraws nothing itself');
    my $r = run_anyedge('withdraw', '-c', $ae->{conf});
    is($r->{exit}, 0, 'anyedge withdraw exits 0') or diag($r->{stderr});
    is(last_call(), 'withdraw 203.0.113.7/32 2001:db8::7/128', 'it ran the announcer with withdraw');
    restart_anyedge($ae);
    ok(defined wait_state('up', 10), 'a restarted daemon comes up');
    ok(wait_until(5, sub { last_call() =~ /^announce / }), 'and announces');
};

subtest 'SIGUSR2 drains' => sub {
    kill 'USR2', $ae->{pid};
    ok(defined wait_state('draining', 5), 'draining');
    ok(wait_until(5, sub { last_call() =~ /^withdraw / }), 'withdrawn');
    is(http(port => $ae->{port}, host => 'example.test', path => '/during-usr2')->{status}, 200, 'still serving');
    restart_anyedge($ae);
    ok(defined wait_state('up', 10), 'a restarted daemon comes up again');
};

subtest 'SIGTERM: withdrawn first, serving for drain-timeout, then stopped' => sub {
    ok(wait_until(5, sub { last_call() =~ /^announce / }), 'announced');
    my $sent = time;
    kill 'TERM', $ae->{pid};
    ok(wait_until(3, sub { last_call() =~ /^withdraw / }), 'withdrawn');
    my $withdrawn = time - $sent;
    sleep 0.3;
    is(http(port => $ae->{port}, host => 'example.test', path => '/after-term')->{status}, 200,
       'a request after the withdrawal is still served');
    my $result = AnyEdgeTest::_stop($ae->{pid}, 0);
    my $stopped = time - $sent;
    $ae->{pid} = undef;
    is($result, 0, 'exit 0');
    cmp_ok($stopped, '>=', 2, 'the daemon served for health.drain-timeout (2s) after the withdrawal');
    note(sprintf 'SIGTERM -> withdrawn %.2fs, stopped %.2fs', $withdrawn, $stopped);
};

subtest 'config errors' => sub {
    my %base = (port => 1, cache_path => "$dir/c", sites => [ { host => 'a.test', origin => 'http://127.0.0.1:1' } ]);
    for my $case (
        ["health:\n  announcer:\n    driver: exabgp\n    prefixes: [203.0.113.1/32]\n", qr/needs 'admin\.listen'/],
        ["health:\n  announcer:\n    driver: exabgp\n", qr/needs 'health\.announcer\.prefixes'/],
        ["health:\n  announcer:\n    driver: exec\n", qr/needs 'health\.announcer\.command'/],
        ["health:\n  announcer:\n    driver: bgpd\n", qr/:\d+: 'health\.announcer\.driver': unknown value 'bgpd' \(expected one of: none, bird, exabgp, exec\)/],
        ["health:\n  announcer:\n    prefixes: [203.0.113.1/33]\n", qr/:\d+: 'health\.announcer\.prefixes': bad prefix '203\.0\.113\.1\/33'/],
        ["health:\n  rise: 0\n", qr/:\d+: 'health\.rise'/],
        ["health:\n  checks:\n    origins:\n      on-fail: degrade\n  announcer:\n    driver: bird\n", qr/needs 'health\.announcer\.degraded-protocols'/],
        ["health:\n  checks:\n    self:\n      on-fail: maybe\n", qr/'health\.checks\.self\.on-fail': unknown value 'maybe' \(expected one of: withdraw, degrade\)/],
        ["health:\n  checks:\n    self:\n      path: nope\n", qr/expected a path starting with '\/'/],
        ["health:\n  checks:\n    bogus:\n      interval: 1s\n", qr/unknown key 'health\.checks\.bogus'/],
        ["admin:\n  listen: \"127.0.0.1:1\"\n", qr/'admin\.listen': '127\.0\.0\.1:1' is already a listen address/],
    ) {
        my ($yaml, $error) = @$case;
        my $conf = write_config($dir, config_yaml(%base, extra_yaml => $yaml), 'bad.conf');
        my ($exit, $stderr) = run_anyedge_check($conf);
        is($exit, 1, 'refused: ' . ($yaml =~ s/\n/ /gr));
        like($stderr, $error, '  with the reason');
    }
};

done_testing();
