# t/71-bird-announcer.t -- the BIRD announcer against a real BIRD 2 running the
# shipped etc/bird/anyedge.conf: anyedge enables its static protocols over the
# control socket once healthy, re-enables them after `birdc configure` (which
# re-applies `disabled`) and after a BIRD restart, disables them on a drain and
# on SIGTERM; after kill -9 they stay up until `anyedge withdraw` disables them.
# The routes as a router sees them are in t/81.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Time::HiRes qw(time sleep);
use Test::More;

plan skip_all => 'needs root (BIRD)' if $> != 0;
plan skip_all => 'needs bird and birdc (Debian package bird2)' if system('command -v bird >/dev/null && command -v birdc >/dev/null') != 0;

my $dir = temp_dir();
my $socket = "$dir/bird.ctl";
my $bird_conf = "$dir/bird.conf";
open my $fh, '>', $bird_conf or die;
print $fh qq{router id 192.0.2.1;\nprotocol device {}\ninclude "$FindBin::Bin/../etc/bird/anyedge.conf";\n};
close $fh;

my $bird_pid;
sub start_bird {
    $bird_pid = fork // die;
    if (!$bird_pid) {
        open STDOUT, '>>', "$dir/bird.log";
        open STDERR, '>&', \*STDOUT;
        exec 'bird', '-f', '-c', $bird_conf, '-s', $socket, '-P', "$dir/bird.pid";
        die "exec bird: $!";
    }
    wait_until(5, sub { -S $socket && birdc('show status') =~ /up and running/ }) or BAIL_OUT('BIRD did not start');
}
sub stop_bird { kill 'TERM', $bird_pid; waitpid $bird_pid, 0; unlink $socket; $bird_pid = undef }
END { local $?; stop_bird() if $bird_pid }

sub birdc { my $out = `birdc -s $socket @_ 2>&1`; return $out }
# The state (up/down) of each of anyedge's static protocols.
sub protocols {
    my %state = map { /^(anyedge_anycast6?)\s+Static\s+\S+\s+(\w+)/ ? ($1 => $2) : () } split /\n/, birdc('show protocols');
    return join ' ', map { "$_=" . ($state{$_} // '?') } qw(anyedge_anycast anyedge_anycast6);
}
my $UP = 'anyedge_anycast=up anyedge_anycast6=up';
my $DOWN = 'anyedge_anycast=down anyedge_anycast6=down';
sub wait_protocols {
    my ($want, $timeout) = @_;
    my $start = time;
    return wait_until($timeout // 10, sub { protocols() eq $want }, 0.05) ? time - $start : undef;
}

start_bird();
is(protocols(), $DOWN, 'a fresh BIRD announces nothing: both protocols are disabled');

my $origin = start_origin();
my $drain_file = "$dir/drain";
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ], extra_yaml => <<"YAML");
health:
  rise: 2
  drain-file: "$drain_file"
  drain-timeout: 1s
  checks:
    self: { interval: 200ms }
    origins: { interval: 200ms }
    store: { interval: 200ms }
    workers: { interval: 200ms }
  announcer:
    driver: bird
    socket: "$socket"
    interval: 500ms
YAML

my $took = wait_protocols($UP);
ok(defined $took, 'enabled once the checks have risen') and note(sprintf 'start -> enabled in %.2fs', $took);
like(birdc('show route protocol anyedge_anycast'), qr{203\.0\.113\.1/32}, 'BIRD has the anycast route');

birdc('configure');
like(protocols(), qr/=down/, '`birdc configure` applies the file\'s `disabled`');
$took = wait_protocols($UP, 5);
ok(defined $took, 'anyedge enables them again') and note(sprintf 'reload -> enabled again in %.2fs', $took);
like(slurp($ae->{stderr_log}), qr/BIRD had 2 protocol\(s\) in the other state/, 'and logs that it had to');

stop_bird();
start_bird();
$took = wait_protocols($UP, 5);
ok(defined $took, 'a restarted BIRD is told again (anyedge reconnects)') and note(sprintf 'BIRD restart -> enabled in %.2fs', $took);

open my $drain, '>', $drain_file or die;
close $drain;
$took = wait_protocols($DOWN, 5);
ok(defined $took, 'drain file: disabled') and note(sprintf 'drain -> disabled in %.2fs', $took);
unlink $drain_file;
ok(defined wait_protocols($UP), 'drain over: enabled again');

my $sent = time;
kill 'TERM', $ae->{pid};
$took = wait_protocols($DOWN, 3);
ok(defined $took, 'SIGTERM: disabled before the daemon exits') and note(sprintf 'SIGTERM -> disabled in %.2fs', $took);
ok(anyedge_running($ae), 'while it still runs (drain-timeout)');
is(stop_anyedge($ae), 0, 'then it exits 0');

restart_anyedge($ae);
ok(defined wait_protocols($UP), 'restarted: enabled');
kill_anyedge_hard($ae);
sleep 1;
is(protocols(), $UP, 'kill -9: nothing withdraws the route by itself');
my $r = run_anyedge('withdraw', '-c', $ae->{conf});
is($r->{exit}, 0, 'anyedge withdraw exits 0') or diag($r->{stderr});
is(protocols(), $DOWN, 'and BIRD has the protocols disabled at once');

stop_bird();
$r = run_anyedge('withdraw', '-c', $ae->{conf});
is($r->{exit}, 1, 'anyedge withdraw with BIRD down: exit 1');
like($r->{stderr}, qr/cannot connect to \Q$socket\E/, 'saying why');

done_testing();
