# t/75-reload.t -- live reload with SIGHUP: a new process with the changed file takes over the
# listeners and the store while the old one finishes what it serves and exits; no request fails
# meanwhile (a client loop on a keep-alive connection, and one slow response in flight), the new
# settings apply (a new site), the anycast route is left announced (no withdrawal by either
# process), and a file that does not load is refused with the error logged while the running
# process carries on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Time::HiRes qw(time sleep);
use Test::More;

my $dir = temp_dir();
my $calls = "$dir/announcer.log";
open my $fh, '>', "$dir/announce.sh" or die;
print $fh qq{#!/bin/sh\necho "\$1" >> "$calls"\n};
close $fh;
chmod 0755, "$dir/announce.sh";
sub calls { return -e $calls ? [ split /\n/, slurp($calls) ] : [] }

my $origin = start_origin();
my $health = <<"YAML";
health:
  rise: 1
  checks:
    self: { interval: 200ms }
    origins: { interval: 200ms }
    store: { interval: 200ms }
    workers: { interval: 200ms }
  announcer:
    driver: exec
    command: "$dir/announce.sh"
    interval: 200ms
YAML
my @sites = ({ host => 'example.test', origin => $origin->{url} });
my $ae = start_anyedge(sites => \@sites, extra_yaml => $health);
my @pids = ($ae->{pid});
END { kill 'KILL', grep { $_ && kill 0, $_ } @pids[1 .. $#pids] if @pids > 1 }

# The file as it would be written with these sites (same port and store).
sub rewrite {
    my (@with) = @_;
    write_config($ae->{dir}, config_yaml(sites => \@with, port => $ae->{port}, cache_path => $ae->{cache_path}, extra_yaml => $health));
}
# The pid of the process that took over from $old, from the shared log.
sub successor {
    my ($old) = @_;
    return slurp($ae->{stderr_log}) =~ /reload: process (\d+) serves now; this one \($old\)/ ? $1 : undef;
}

ok(wait_until(5, sub { grep { $_ eq 'announce' } @{ calls() } }), 'announced');
is(http(port => $ae->{port}, host => 'new.test', path => '/x')->{status}, 421, 'new.test is not a site yet');
ok(wait_for_hit(port => $ae->{port}, host => 'example.test', path => '/kept'), '/kept is stored');

subtest 'SIGHUP: a new process takes over; nothing fails' => sub {
    rewrite(@sites, { host => 'new.test', origin => $origin->{url} });
    my $slow = AnyEdgeTest::_curl_start(port => $ae->{port}, host => 'example.test', paths => ['/slow?delay=2']);
    my @loop = map { "/loop/$_?delay=0.01" } 1 .. 300; # about 3 s, across the reload
    my $client = AnyEdgeTest::_curl_start(port => $ae->{port}, host => 'example.test', paths => \@loop);
    sleep 0.3;
    my $old = $ae->{pid};
    kill 'HUP', $old;
    my $new;
    ok(wait_until(10, sub { $new = successor($old) }), 'a new process serves') or return;
    push @pids, $new;
    my @responses = AnyEdgeTest::_curl_finish($client);
    my @failed = grep { $_->{status} != 200 } @responses;
    is(scalar @failed, 0, scalar(@responses) . ' requests on a keep-alive connection across the reload: none failed');
    my ($slow_response) = AnyEdgeTest::_curl_finish($slow);
    is($slow_response->{status}, 200, 'the response in flight at the reload completed');
    is(stop_anyedge($ae, 0), 0, 'the old process exited 0');
    ok(kill(0, $new), 'the new one runs');
    $ae->{pid} = $new;
    is(http(port => $ae->{port}, host => 'new.test', path => '/x')->{status}, 200, 'the new site is served');
    is(http(port => $ae->{port}, host => 'example.test', path => '/kept')->{headers}{'x-cache'}, 'HIT', 'the store is the same');
    sleep 1;
    ok(!grep({ $_ eq 'withdraw' } @{ calls() }), 'the route was never withdrawn') or diag(explain(calls()));
};

subtest 'a file that does not load is refused' => sub {
    open my $conf, '>>', $ae->{conf} or die;
    print $conf "bogus: [\n";
    close $conf;
    my $pid = $ae->{pid};
    kill 'HUP', $pid;
    ok(wait_until(10, sub { slurp($ae->{stderr_log}) =~ /reload refused, the running configuration stays: \S+:\d+: YAML syntax error/ }),
       'refused, with the error and its line');
    ok(kill(0, $pid), 'the process carries on');
    is(http(port => $ae->{port}, host => 'new.test', path => '/y')->{status}, 200, 'with its configuration');
};

# the daemon now is not a child of this test: stop it by its pid
kill 'TERM', $ae->{pid};
ok(wait_until(10, sub { !kill 0, $ae->{pid} }), 'the new process stops on SIGTERM');
ok(grep({ $_ eq 'withdraw' } @{ calls() }), 'and withdraws then');
$ae->{pid} = undef;

done_testing();
