package AnyEdgeNet;
# AnyEdgeNet -- real BGP for the t/*.t tests, in network namespaces this file creates and owns:
# a router namespace running BIRD that peers by eBGP with N edge namespaces (each its own AS,
# running BIRD with the shipped etc/bird/anyedge.conf, or ExaBGP) and installs what they
# announce into its kernel table with ECMP; a client namespace behind the router; processes
# started inside any of them; and reading the routes the router learned.
#
# Addresses: link i between the router and edge i is 198.51.100.(4i-4)/30 (router .4i-3, edge
# .4i-2); the client link is 198.51.100.252/30 (router .253, client .254); the anycast
# addresses (default 203.0.113.1) are /32s on every edge's loopback. AS numbers: router 64496,
# edge i 64496+i. Nothing here sends a packet outside these namespaces.
#
# Every namespace is named anyedge-PID-NAME (PID: the test's). When the test script exits (also on die, SIGINT,
# SIGTERM or SIGHUP), every process started here is stopped and every namespace deleted;
# namespaces left by a test run that was SIGKILLed are deleted by the next net_create.

use strict;
use warnings;
use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use POSIX qw(WNOHANG _exit);
use Test::More;
use Time::HiRes qw(sleep time);
use AnyEdgeTest qw(temp_dir slurp wait_until anyedge_bin config_yaml write_config);

our @EXPORT = qw(
    net_skip_reason require_netns net_program net_create net_destroy
    ns_run ns_spawn ns_stop ns_wait_listening
    start_router start_edge_bird start_bird stop_bird restart_bird reload_bird birdc
    bird_protocol wait_session anycast_enable anycast_disable
    start_edge_exabgp stop_exabgp exabgp_config
    router_routes router_nexthops route_present kernel_nexthops
    wait_route_present wait_route_absent wait_nexthops
    client_run client_http ns_start_origin ns_start_anyedge ns_stop_anyedge
    link_down link_up
);

my $ROOT = abs_path(dirname(__FILE__) . '/../..');
my $SNIPPET = "$ROOT/etc/bird/anyedge.conf";

use constant ROUTER_AS    => 64496;
use constant MAX_EDGES    => 15;    # edge AS numbers stay in 64497..64511 (RFC 5398)
use constant WAIT_TIMEOUT => 15;    # default bound of every wait here (seconds)
use constant EXIT_TIMEOUT => 5;     # a stopped process gets this long before SIGKILL

# --- what this machine can do ----------------------------------------------------

# The absolute path of a program in $PATH or an sbin directory, or undef.
sub _which {
    my ($name) = @_;
    for my $dir (split(/:/, $ENV{PATH} // ''), qw(/usr/local/sbin /usr/sbin /sbin /usr/bin /bin)) {
        return "$dir/$name" if length $dir && -f "$dir/$name" && -x _;
    }
    return undef;
}

# The absolute path of a program (ip, bird, birdc, exabgp, ...), found even when $PATH lacks
# the sbin directories; dies if it is not installed.
my %BIN;
sub net_program {
    my ($name) = @_;
    return $BIN{$name} //= _which($name) // die "AnyEdgeNet: $name is not installed\n";
}
sub _bin { return net_program(@_) }

# Why these tests cannot run here (a sentence), or undef when they can: they need root,
# `ip netns` that can really create a namespace, bird and birdc, and with exabgp => 1
# ExaBGP too.
my %can_run;
sub net_skip_reason {
    my (%need) = @_;
    return 'needs root (network namespaces, BIRD)' if $> != 0;
    my @programs = (qw(ip bird birdc timeout), $need{exabgp} ? 'exabgp' : ());
    for my $program (@programs) {
        return "needs $program (packaging/install-deps installs it)" unless _which($program);
    }
    $can_run{netns} //= do {
        my $probe = "anyedge-$$-probe";
        my ($out, $status) = _capture(_bin('ip'), 'netns', 'add', $probe);
        _capture(_bin('ip'), 'netns', 'del', $probe) unless $status;
        $status ? "cannot create a network namespace: $out" =~ s/\s+\z//r : '';
    };
    return length $can_run{netns} ? $can_run{netns} : undef;
}

# plan skip_all (with the reason) unless net_skip_reason(%need) finds nothing missing.
sub require_netns {
    my $reason = net_skip_reason(@_);
    plan skip_all => $reason if defined $reason;
}

# --- child processes -------------------------------------------------------------

my %LIVE;   # pid => { log, what, ns } for every process started here and not yet reaped
my %EXIT;   # pid => exit result of every process started here and reaped
my %SPAWNED;   # pid => { log, what, ns, serial } of every process started here (logs shown on failure)
my @NETS;   # every net created and not yet destroyed
my $net_serial = 0;

sub _ns_of {
    my ($node) = @_;
    return ref $node ? $node->{ns} // die "AnyEdgeNet: not a namespace: $node\n" : $node;
}

# Fork and exec @$cmd inside namespace $ns (through `ip netns exec`, which execs in place, so
# the pid is the command's), stdin from /dev/null, stdout and stderr appended to $log, with
# the variables of %$env added to the environment.
sub _spawn_in {
    my ($ns, $cmd, $log, $env) = @_;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or _exit(126);
        open STDERR, '>&', \*STDOUT or _exit(126);
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        @ENV{ keys %$env } = values %$env if $env;
        exec _bin('ip'), 'netns', 'exec', $ns, @$cmd or _exit(127);
    }
    my $what = join ' ', map { length > 40 || /\n/ ? substr($_ =~ s/\s+/ /gr, 0, 37) . '...' : $_ } @$cmd;
    $LIVE{$pid} = $SPAWNED{$pid} = { log => $log, what => "$what (in $ns)", ns => $ns,
                                     serial => scalar keys %SPAWNED };
    return $pid;
}

# Wait up to $timeout seconds for $pid to exit; its exit result (the exit code, or
# "signal N"), or undef if it is still running.
sub _reap {
    my ($pid, $timeout) = @_;
    my $result;
    wait_until($timeout, sub {
        my $got = waitpid($pid, WNOHANG);
        return 0 if $got == 0;
        $result = $got == $pid ? ($? & 127 ? 'signal ' . ($? & 127) : $? >> 8) : 'gone';
        $EXIT{$pid} = $result if delete $LIVE{$pid};
        return 1;
    }, 0.02);
    return $result;
}

# Has a process started here exited? (Reaps it if so.)
sub _exited { return defined _reap($_[0], 0) }

# Start @$cmd in the background inside a namespace (a node hashref or a namespace name).
# Options: log => file for its stdout and stderr (default: a new file in a temp dir),
# env => { NAME => value } added to its environment. Returns the pid; the process is
# stopped when the test exits if ns_stop has not stopped it before.
sub ns_spawn {
    my ($node, $cmd, %opt) = @_;
    my $log = $opt{log} // temp_dir() . '/output.log';
    return _spawn_in(_ns_of($node), $cmd, $log, $opt{env});
}

# Stop a process started by ns_spawn: send $signal (default TERM), wait up to 5 s, then
# SIGKILL. Returns its exit result (exit code, or "signal N"; the one it had if it had already
# exited), or undef if it had to be killed.
sub ns_stop {
    my ($pid, $signal) = @_;
    return $EXIT{$pid} unless $LIVE{$pid};
    kill $signal // 'TERM', $pid;
    my $result = _reap($pid, EXIT_TIMEOUT);
    return $result if defined $result;
    kill 'KILL', $pid;
    _reap($pid, EXIT_TIMEOUT);
    return undef;
}

# Run @cmd to completion inside a namespace; a trailing hashref gives options: timeout
# (seconds, default 10: then the command is killed and exit is 124). Returns
# { exit, stdout, stderr }.
my $run_serial = 0;
my $RUN_DIR;
sub ns_run {
    my ($node, @cmd) = @_;
    my %opt = ref $cmd[-1] eq 'HASH' ? %{ pop @cmd } : ();
    $RUN_DIR //= temp_dir();
    my ($out, $err) = map { "$RUN_DIR/" . ++$run_serial . ".$_" } qw(out err);
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or _exit(126);
        open STDERR, '>', $err or _exit(126);
        exec _bin('timeout'), '-k', '1', $opt{timeout} // 10,
            _bin('ip'), 'netns', 'exec', _ns_of($node), @cmd or _exit(127);
    }
    waitpid($pid, 0);
    my %result = (exit => $? & 127 ? 'signal ' . ($? & 127) : $? >> 8,
                  stdout => slurp($out), stderr => slurp($err));
    unlink $out, $err;
    return \%result;
}

# Wait until something accepts TCP connections on $addr:$port inside the namespace; the
# seconds it took (as "%.2f", true even when "0.00"), or undef after $timeout (default 15).
sub ns_wait_listening {
    my ($node, $addr, $port, $timeout) = @_;
    my $start = time;
    my $probe = 'use IO::Socket::INET; exit(IO::Socket::INET->new(PeerAddr => $ARGV[0], '
              . 'PeerPort => $ARGV[1], Timeout => 1) ? 0 : 1)';
    my $up = wait_until($timeout // WAIT_TIMEOUT,
        sub { ns_run($node, $^X, '-e', $probe, $addr, $port)->{exit} eq '0' }, 0.05);
    return $up ? sprintf('%.2f', time - $start) : undef;
}

# --- namespaces and links ----------------------------------------------------------

# Run a program (no shell); (its output, stdout and stderr together; its wait status).
sub _capture {
    my (@cmd) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!\n";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec @cmd or _exit(127);
    }
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    return ($out, $?);
}

# Run `ip @args`; its output. Dies if it fails.
sub _ip {
    my (@args) = @_;
    my ($out, $status) = _capture(_bin('ip'), @args);
    die "ip @args: $out" if $status;
    return $out;
}

sub _pid_alive { return kill(0, $_[0]) || $!{EPERM} }

# Delete the namespaces of earlier runs whose test process is gone (SIGKILLed runs never got
# to their END block), with whatever they still run.
sub _delete_stale_namespaces {
    for my $line (split /\n/, _ip('netns', 'list')) {
        my ($ns, $pid) = $line =~ /\A(anyedge-(\d+)-\S+)/ or next;
        next if $pid == $$ || _pid_alive($pid);
        _delete_namespace($ns);
    }
}

sub _delete_namespace {
    my ($ns) = @_;
    my ($pids) = _capture(_bin('ip'), 'netns', 'pids', $ns);
    my @pids = $pids =~ /^(\d+)$/mg;
    kill 'KILL', @pids if @pids;
    _capture(_bin('ip'), 'netns', 'del', $ns);
}

sub _add_namespace {
    my ($net, $name) = @_;
    my $ns = "anyedge-$$-$net->{tag}$name";
    _ip('netns', 'add', $ns);
    push @{ $net->{namespaces} }, $ns;
    _ip('-n', $ns, 'link', 'set', 'lo', 'up');
    return $ns;
}

# A veth pair: $dev_a in $ns_a with $addr_a/30, $dev_b in $ns_b with $addr_b/30, both up.
sub _add_link {
    my ($ns_a, $dev_a, $addr_a, $ns_b, $dev_b, $addr_b) = @_;
    _ip('link', 'add', $dev_a, 'netns', $ns_a, 'type', 'veth', 'peer', 'name', $dev_b, 'netns', $ns_b);
    for ([$ns_a, $dev_a, $addr_a], [$ns_b, $dev_b, $addr_b]) {
        my ($ns, $dev, $addr) = @$_;
        _ip('-n', $ns, 'addr', 'add', "$addr/30", 'dev', $dev);
        _ip('-n', $ns, 'link', 'set', $dev, 'up');
    }
}

# Create the namespaces and links (anyedge-PID-router, anyedge-PID-edge1, ..., anyedge-PID-client;
# a second net of the same test gets anyedge-PID-n2-router, ...). Arguments: edges => N (default 2, at most 15),
# client => 1 (default) for a client namespace, anycast => [ADDRESS, ...] (default
# ['203.0.113.1']). Returns the net:
#   { dir, anycast => [addresses], prefixes => ["203.0.113.1/32", ...],
#     router => { name => 'router', ns, asn, router_id, dir },
#     edges  => [ { name => 'edgeI', index => I, ns, addr, router_addr, router_dev, asn, dir }, ... ],
#     client => { name => 'client', ns, addr, router_addr, dir } }
# Nodes are these hashrefs; ns_run, ns_spawn and ns_wait_listening also take a namespace name.
# Edges and the client have a default route via the router, which forwards.
sub net_create {
    my (%args) = @_;
    my $count = $args{edges} // 2;
    die "AnyEdgeNet: 1 to " . MAX_EDGES . " edges\n" if $count < 1 || $count > MAX_EDGES;
    _bin($_) for qw(ip bird birdc timeout);
    _install_signal_handlers();
    _delete_stale_namespaces();

    my @anycast = @{ $args{anycast} // ['203.0.113.1'] };
    my $net = { dir => temp_dir(), anycast => \@anycast, prefixes => [ map { "$_/32" } @anycast ],
                namespaces => [], tag => $net_serial++ ? "n$net_serial-" : '' };
    push @NETS, $net;
    my $router = $net->{router} = { name => 'router', asn => ROUTER_AS, router_id => '192.0.2.1' };
    $router->{ns} = _add_namespace($net, 'router');
    # Forward, and spread the connections of one client over the paths of a multipath route
    # (hash on addresses and ports, as routers in front of anycast nodes commonly do).
    _ip('netns', 'exec', $router->{ns}, '/bin/sh', '-c',
        'echo 1 >/proc/sys/net/ipv4/ip_forward && echo 1 >/proc/sys/net/ipv4/fib_multipath_hash_policy');

    for my $i (1 .. $count) {
        my $base = 4 * ($i - 1);
        my $edge = { name => "edge$i", index => $i, asn => ROUTER_AS + $i,
                     addr => '198.51.100.' . ($base + 2), router_addr => '198.51.100.' . ($base + 1),
                     router_dev => "edge$i" };
        $edge->{ns} = _add_namespace($net, $edge->{name});
        _add_link($router->{ns}, $edge->{router_dev}, $edge->{router_addr}, $edge->{ns}, 'uplink', $edge->{addr});
        _ip('-n', $edge->{ns}, 'addr', 'add', "$_/32", 'dev', 'lo') for @anycast;
        _ip('-n', $edge->{ns}, 'route', 'add', 'default', 'via', $edge->{router_addr});
        push @{ $net->{edges} }, $edge;
    }
    if ($args{client} // 1) {
        my $client = $net->{client} = { name => 'client', addr => '198.51.100.254', router_addr => '198.51.100.253' };
        $client->{ns} = _add_namespace($net, 'client');
        _add_link($router->{ns}, 'client', $client->{router_addr}, $client->{ns}, 'uplink', $client->{addr});
        _ip('-n', $client->{ns}, 'route', 'add', 'default', 'via', $client->{router_addr});
    }
    for my $node ($router, @{ $net->{edges} }, $net->{client} // ()) {
        $node->{dir} = "$net->{dir}/$node->{name}";
        make_path($node->{dir});
    }
    return $net;
}

# Stop every process started in the net's namespaces and delete them (also done at exit).
sub net_destroy {
    my ($net) = @_;
    @NETS = grep { $_ != $net } @NETS;
    my %ours = map { $_ => 1 } @{ $net->{namespaces} };
    my @pids = grep { $ours{ $LIVE{$_}{ns} } } keys %LIVE;
    _stop_all(@pids);
    _delete_namespace($_) for @{ $net->{namespaces} };
    $net->{namespaces} = [];
}

sub _stop_all {
    my (@pids) = @_;
    kill 'TERM', @pids;
    kill 'CONT', @pids;   # a test may have stopped one with SIGSTOP
    for my $pid (@pids) {
        next if defined _reap($pid, EXIT_TIMEOUT);
        kill 'KILL', $pid;
        _reap($pid, EXIT_TIMEOUT);
    }
}

my $handlers_installed;
sub _install_signal_handlers {
    return if $handlers_installed++;
    my %number = (HUP => 1, INT => 2, TERM => 15);
    for my $signal (sort keys %number) {
        next if defined $SIG{$signal} && $SIG{$signal} ne 'DEFAULT';
        $SIG{$signal} = sub { diag("AnyEdgeNet: SIG$signal, cleaning up"); exit 128 + $number{$signal} };
    }
}

END {
    my $failed = $? || !Test::More->builder->is_passing;
    local $?;  # keep the test script's exit status
    if ($failed) {
        for my $info (sort { $a->{serial} <=> $b->{serial} } values %SPAWNED) {
            my @lines = split /^/m, slurp($info->{log}) or next;
            splice @lines, 0, -30 if @lines > 30;
            diag("output of $info->{what} (last 30 lines of $info->{log}):\n", @lines);
        }
    }
    _stop_all(keys %LIVE);
    net_destroy($_) for @{[@NETS]};
}

# Take an edge's link to the router down, or bring it up again. Both ends lose carrier, so the
# router's BIRD drops the session (and the edge's routes) at once, as when a cable is pulled.
# (To see the hold timer, 3 s, expire instead, freeze the edge's BIRD: kill 'STOP', its pid.)
sub link_down { _ip('-n', $_[0]{ns}, 'link', 'set', 'uplink', 'down') }
sub link_up   { _ip('-n', $_[0]{ns}, 'link', 'set', 'uplink', 'up') }

# --- BIRD ---------------------------------------------------------------------------

# Timers for every session: a peer is declared dead 3 s after its last message, a refused
# connection is retried after 1 s, and a session that failed is restarted after 1-3 s (BIRD
# waits 60 s by default). No graceful restart, so a dead peer's routes go at once.
my $BGP_TIMERS = <<'EOT';
    hold time 3;
    keepalive time 1;
    connect delay time 1;
    connect retry time 1;
    error wait time 1, 3;
    graceful restart off;
EOT

# The router's BIRD config: one eBGP session per edge (protocol named after the edge),
# everything imported, nothing exported, and the best routes of equal cost merged into one
# multipath route in the kernel table.
sub _router_config {
    my ($net, $extra) = @_;
    my $router = $net->{router};
    my $conf = <<"EOT";
# router namespace of an AnyEdgeNet test network
log stderr all;
router id $router->{router_id};

protocol device { scan time 1; }

protocol kernel {
    ipv4 { import none; export all; };
    merge paths on;
}

template bgp edge {
    local as $router->{asn};
$BGP_TIMERS    ipv4 { import all; export none; };
}
EOT
    for my $edge (@{ $net->{edges} }) {
        $conf .= "\nprotocol bgp $edge->{name} from edge {\n"
               . "    local $edge->{router_addr};\n"
               . "    neighbor $edge->{addr} as $edge->{asn};\n"
               . "}\n";
    }
    return $conf . ($extra // '');
}

# The shipped snippet with the route lines of protocols anyedge_anycast and
# anyedge_anycast_degraded replaced by the net's anycast prefixes, and ANYEDGE_AS set to the
# edge's AS number.
sub _edge_snippet {
    my ($net, $edge) = @_;
    my $text = slurp($SNIPPET);
    my $routes = join '', map { "    route $_ blackhole;\n" } @{ $net->{prefixes} };
    for my $name (qw(anyedge_anycast anyedge_anycast_degraded)) {
        my ($head, $body, $tail) = $text =~ /^(protocol\s+static\s+\Q$name\E\s*\{\n)(.*?)(^\}\n)/ms
            or die "AnyEdgeNet: $SNIPPET has no 'protocol static $name {' block\n";
        my ($from, $length) = ($-[0], $+[0] - $-[0]);
        $body =~ s/^\s*route\s[^\n]*\n//mg;
        substr($text, $from, $length) = $head . $body . $routes . $tail;
    }
    $text =~ s/^define ANYEDGE_AS = \d+;/define ANYEDGE_AS = $edge->{asn};/m
        or die "AnyEdgeNet: $SNIPPET does not define ANYEDGE_AS\n";
    return $text;
}

# An edge's BIRD config: the snippet (as _edge_snippet) and one eBGP session to the router
# (protocol "uplink") exporting through the snippet's anyedge_export filter.
sub _edge_config {
    my ($net, $edge, $extra) = @_;
    my $snippet = write_config($edge->{dir}, _edge_snippet($net, $edge), 'anyedge-bird.conf');
    return <<"EOT" . ($extra // '');
# $edge->{name} namespace of an AnyEdgeNet test network
log stderr all;
router id $edge->{addr};

protocol device { scan time 1; }

include "$snippet";

protocol bgp uplink {
    local $edge->{addr} as $edge->{asn};
    neighbor $edge->{router_addr} as $net->{router}{asn};
$BGP_TIMERS    ipv4 { import none; export filter anyedge_export; };
}
EOT
}

# Start BIRD in a node's namespace with config text $conf (written to NODE_DIR/bird.conf) and
# the control socket NODE_DIR/bird.ctl; wait until the socket answers. Sets and returns
# $node->{bird} = { pid, conf, sock, log }. Dies (with BIRD's output) if BIRD rejects the
# config or does not answer within 15 s.
sub start_bird {
    my ($node, $conf) = @_;
    my $bird = $node->{bird} = {
        conf => write_config($node->{dir}, $conf, 'bird.conf'),
        sock => "$node->{dir}/bird.ctl",
        log  => "$node->{dir}/bird.log",
    };
    return _run_bird($node);
}

sub _run_bird {
    my ($node) = @_;
    my $bird = $node->{bird};
    unlink $bird->{sock};
    $bird->{pid} = _spawn_in($node->{ns}, [_bin('bird'), '-f', '-c', $bird->{conf}, '-s', $bird->{sock}], $bird->{log});
    my $exited;
    my $up = wait_until(WAIT_TIMEOUT, sub {
        return $exited = 1 if _exited($bird->{pid});
        return -S $bird->{sock} && (birdc($node, 'show', 'status') // '') =~ /Daemon is up and running/;
    }, 0.05);
    die "BIRD in $node->{ns} " . ($exited ? 'exited' : 'did not answer on ' . $bird->{sock})
        . "; its output:\n" . slurp($bird->{log}) if $exited || !$up;
    return $bird;
}

# Stop a node's BIRD with $signal (default TERM: BIRD closes its sessions with a Cease
# notification first; KILL: the kernel just closes the TCP connections). Returns the exit
# result, as ns_stop.
sub stop_bird {
    my ($node, $signal) = @_;
    my $bird = $node->{bird} or die "no BIRD in $node->{name}\n";
    return ns_stop($bird->{pid}, $signal);
}

# Stop (with $signal, default TERM) and start a node's BIRD again with the same config file.
sub restart_bird {
    my ($node, $signal) = @_;
    stop_bird($node, $signal);
    return _run_bird($node);
}

# Make a node's BIRD re-read its config file (`birdc configure`); with $conf, the file is
# first replaced by that text. Returns birdc's answer ("Reconfigured", "Reconfiguration in
# progress", or the config error).
sub reload_bird {
    my ($node, $conf) = @_;
    write_config($node->{dir}, $conf, 'bird.conf') if defined $conf;
    return birdc($node, 'configure');
}

# Run a birdc command against a node's BIRD (words as birdc takes them: 'show', 'route', ...).
# Returns the answer without birdc's "BIRD x.y.z ready." line (an error is an answer too), or
# undef when BIRD does not answer (bounded by 5 s).
sub birdc {
    my ($node, @cmd) = @_;
    my $sock = $node->{bird} ? $node->{bird}{sock} : die "no BIRD in $node->{name}\n";
    open my $fh, '-|', _bin('timeout'), '-k', '1', '5', _bin('birdc'), '-s', $sock, @cmd
        or die "birdc: $!\n";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    # birdc exits 1 after an error answer ("Network not found", a syntax error) too.
    return undef if $out !~ s/\ABIRD [^\n]* ready\.\n//;
    return $out;
}

# A protocol as `birdc show protocols NAME` shows it: { name, proto, table, state (up, down,
# start, ...), info (e.g. "Established", "Active  Socket: Connection refused") }, or undef
# if there is no such protocol (or BIRD does not answer).
sub bird_protocol {
    my ($node, $name) = @_;
    my $out = birdc($node, 'show', 'protocols', $name) // return undef;
    for my $line (split /\n/, $out) {
        my ($proto, $type, $table, $state, $rest) = $line =~ /\A(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*)\z/ or next;
        next unless $proto eq $name;
        # "Since" is a time (12:34:56.789) or a date and a time.
        $rest =~ s/\A(?:\d{4}-\d\d-\d\d\s+)?\S+\s*//;
        return { name => $proto, proto => $type, table => $table, state => $state, info => $rest =~ s/\s+\z//r };
    }
    return undef;
}

# Start the router's BIRD (config as _router_config; $args{extra} is appended). Returns
# $net->{router}{bird}.
sub start_router {
    my ($net, %args) = @_;
    return start_bird($net->{router}, _router_config($net, $args{extra}));
}

# Start an edge's BIRD with the shipped snippet (its anycast protocols disabled, as shipped)
# and a session to the router ($args{extra} is appended to the config). Returns $edge->{bird}.
sub start_edge_bird {
    my ($net, $edge, %args) = @_;
    return start_bird($edge, _edge_config($net, $edge, $args{extra}));
}

# Wait until the router's session with $edge is Established; the seconds it took ("%.2f"),
# or undef after $timeout (default 15).
sub wait_session {
    my ($net, $edge, $timeout) = @_;
    my $start = time;
    my $up = wait_until($timeout // WAIT_TIMEOUT, sub {
        my $p = bird_protocol($net->{router}, $edge->{name});
        return $p && $p->{info} =~ /\AEstablished/;
    });
    return $up ? sprintf('%.2f', time - $start) : undef;
}

# `birdc enable anyedge_anycast` and `... anyedge_anycast6` / `disable` on an edge: what
# anyedge's BIRD driver does to announce and withdraw (the _degraded protocols stay off).
# does. Returns birdc's answer (e.g. "anyedge_anycast: enabled\nanyedge_anycast6: enabled\n").
sub anycast_enable  { return join '', map { birdc($_[0], 'enable',  $_) // '' } qw(anyedge_anycast anyedge_anycast6) }
sub anycast_disable { return join '', map { birdc($_[0], 'disable', $_) // '' } qw(anyedge_anycast anyedge_anycast6) }

# --- ExaBGP -----------------------------------------------------------------------------

sub _sh_quote { return "'" . ($_[0] =~ s/'/'\\''/gr) . "'" }

# The text of an ExaBGP 4.2 config for an edge: one neighbor, the router, with the same
# timers as the BIRD sessions, and a process "anyedge" running $run (a program path, as
# ExaBGP's `run` takes it) whose standard output is ExaBGP API commands.
sub exabgp_config {
    my ($net, $edge, $run) = @_;
    return <<"EOT";
# $edge->{name} namespace of an AnyEdgeNet test network
process anyedge {
    run $run;
    encoder text;
}

neighbor $edge->{router_addr} {
    router-id $edge->{addr};
    local-address $edge->{addr};
    local-as $edge->{asn};
    peer-as $net->{router}{asn};
    hold-time 3;
    family { ipv4 unicast; }
    api { processes [ anyedge ]; }
}
EOT
}

# Start ExaBGP in an edge's namespace, peering with the router; its API process runs
# $args{command} (an arrayref: program and arguments; run through a small sh script,
# NODE_DIR/exabgp-process, so any arguments survive). ExaBGP's settings come from
# NODE_DIR/exabgp.env (nothing from /etc): no privilege drop, no CLI pipes, log to stdout,
# plus $args{env} ({ 'exabgp.api.ack' => 'false', ... }). The process inherits the
# environment. Sets and returns $edge->{exabgp} = { pid, conf, env, log }. The config is
# checked with `exabgp --test` first (dies with its output if it fails).
sub start_edge_exabgp {
    my ($net, $edge, %args) = @_;
    my $dir = $edge->{dir};
    my $process = write_config($dir,
        "#!/bin/sh\nexec " . join(' ', map { _sh_quote($_) } @{ $args{command} }) . "\n", 'exabgp-process');
    chmod 0755, $process;
    my %settings = ('exabgp.daemon.user' => 'root', 'exabgp.daemon.daemonize' => 'false',
                    'exabgp.daemon.pid' => "''", 'exabgp.api.cli' => 'false',
                    'exabgp.log.destination' => 'stdout', %{ $args{env} // {} });
    my %sections;
    for my $key (sort keys %settings) {
        my ($section, $name) = $key =~ /\A(.*)\.([^.]+)\z/ or die "bad ExaBGP setting $key\n";
        $sections{$section} .= "$name = $settings{$key}\n";
    }
    my $exabgp = $edge->{exabgp} = {
        conf => write_config($dir, exabgp_config($net, $edge, $process), 'exabgp.conf'),
        env  => write_config($dir, join('', map { "[$_]\n$sections{$_}\n" } sort keys %sections), 'exabgp.env'),
        log  => "$dir/exabgp.log",
    };
    my @exabgp = (_bin('exabgp'), '--env', $exabgp->{env});
    my $check = ns_run($edge, @exabgp, '--test', $exabgp->{conf}, { timeout => 20 });
    die "exabgp --test $exabgp->{conf} failed:\n$check->{stdout}$check->{stderr}" if $check->{exit} ne '0';
    $exabgp->{pid} = _spawn_in($edge->{ns}, [@exabgp, $exabgp->{conf}], $exabgp->{log});
    return $exabgp;
}

# Stop an edge's ExaBGP (SIGTERM: it closes the session, which withdraws its routes, and
# stops its process). Returns the exit result, as ns_stop.
sub stop_exabgp {
    my ($edge, $signal) = @_;
    my $exabgp = $edge->{exabgp} or die "no ExaBGP in $edge->{name}\n";
    return ns_stop($exabgp->{pid}, $signal);
}

# --- routes at the router ----------------------------------------------------------------

sub _prefix { return $_[0] =~ m{/} ? $_[0] : "$_[0]/32" }

# The routes the router's BIRD has for exactly $prefix (default: the net's first anycast
# prefix; an address means its /32), from `birdc show route PREFIX`: a list of
# { proto (the edge's name, or the ExaBGP edge's), primary (1 for the best route, marked *),
# preference, as_path ("64497"), nexthops => [ADDRESS, ...], dev (the first next hop's) }.
# Empty when there is none. Dies if the router's BIRD does not answer.
sub router_routes {
    my ($net, $prefix) = @_;
    $prefix = _prefix($prefix // $net->{prefixes}[0]);
    my $out = birdc($net->{router}, 'show', 'route', $prefix)
        // die "the router's BIRD does not answer\n";
    my @routes;
    for my $line (split /\n/, $out) {
        if ($line =~ /\A\S*\s+\w+\s+\[(\S+)[^\]]*\]\s*(\*)?\s*\((\d+)\)\s*(?:\[(?:AS)?(.*?)[ie?]?\])?/) {
            push @routes, { proto => $1, primary => $2 ? 1 : 0, preference => $3,
                            as_path => $4 // '', nexthops => [] };
        } elsif (@routes && $line =~ /\A\s+via\s+(\S+)\s+on\s+(\S+)/) {
            push @{ $routes[-1]{nexthops} }, $1;
            $routes[-1]{dev} //= $2;
        }
    }
    return @routes;
}

# The next-hop addresses of all the router's BIRD routes for $prefix, sorted.
sub router_nexthops {
    my ($net, $prefix) = @_;
    my %seen;
    return sort grep { !$seen{$_}++ } map { @{ $_->{nexthops} } } router_routes($net, $prefix);
}

# How many routes the router's BIRD has for $prefix (so: true when there is one).
sub route_present { return scalar(my @r = router_routes(@_)) }

# The next hops of the route for exactly $prefix in the router's kernel table (what traffic
# from the client follows: one, or several for an ECMP multipath route), sorted.
sub kernel_nexthops {
    my ($net, $prefix) = @_;
    $prefix = _prefix($prefix // $net->{prefixes}[0]);
    my $out = _ip('-n', $net->{router}{ns}, '-4', 'route', 'show', 'exact', $prefix);
    return sort $out =~ /\bvia\s+(\S+)/g;
}

# Wait (up to $timeout seconds, default 15) until $check->() is true; the seconds it took, as
# "%.2f" (true even when "0.00"), or undef.
sub _wait_for {
    my ($timeout, $check) = @_;
    my $start = time;
    my $done = wait_until($timeout // WAIT_TIMEOUT, $check, 0.05);
    return $done ? sprintf('%.2f', time - $start) : undef;
}

# Wait until the router's BIRD has a route for $prefix / has none.
sub wait_route_present {
    my ($net, $prefix, $timeout) = @_;
    return _wait_for($timeout, sub { route_present($net, $prefix) });
}
sub wait_route_absent {
    my ($net, $prefix, $timeout) = @_;
    return _wait_for($timeout, sub { !route_present($net, $prefix) });
}

# Wait until the next hops for $prefix are $want: a number (that many), or an arrayref of
# addresses or edge nodes (exactly those). Options: kernel => 1 to look at the router's
# kernel table (kernel_nexthops) instead of BIRD's routes, timeout (default 15).
sub wait_nexthops {
    my ($net, $prefix, $want, %opt) = @_;
    my $read = $opt{kernel} ? \&kernel_nexthops : \&router_nexthops;
    my $wanted = ref $want ? join(' ', sort map { ref $_ ? $_->{addr} : $_ } @$want) : undef;
    return _wait_for($opt{timeout}, sub {
        my @hops = $read->($net, $prefix);
        return defined $wanted ? "@hops" eq $wanted : @hops == $want;
    });
}

# --- the client, and anyedge inside a namespace ------------------------------------------

# Run @cmd in the client namespace (as ns_run).
sub client_run {
    my ($net, @cmd) = @_;
    return ns_run($net->{client} // die("the net has no client\n"), @cmd);
}

# One HTTP request with curl from a namespace (default: the client's). Arguments: url,
# host (Host header), timeout (default 5 s), ns (a node to send from), headers => [...].
# Returns { status (0 when no response), headers => { lowercase name => value }, body,
# exit (curl's), stderr }.
sub client_http {
    my ($net, %args) = @_;
    my $node = $args{ns} // $net->{client} // die "the net has no client\n";
    my @cmd = ('curl', '-sS', '-i', '--max-time', $args{timeout} // 5, '-o', '-', '-w', '\n%{http_code}',
               ($args{host} ? ('-H', "Host: $args{host}") : ()),
               (map { ('-H', $_) } @{ $args{headers} // [] }), $args{url});
    my $run = ns_run($node, @cmd, { timeout => ($args{timeout} // 5) + 5 });
    my ($response, $status) = $run->{stdout} =~ /\A(.*)\n(\d+)\z/s ? ($1, $2) : ('', 0);
    my ($head, $body) = split /\r?\n\r?\n/, $response, 2;
    my %headers;
    for my $line (split /\r?\n/, $head // '') {
        my ($name, $value) = $line =~ /\A([^:\s]+):\s*(.*?)\s*\z/ or next;
        $headers{ lc $name } = exists $headers{ lc $name } ? "$headers{ lc $name }, $value" : $value;
    }
    return { status => $status + 0, headers => \%headers, body => $body // '',
             exit => $run->{exit}, stderr => $run->{stderr} };
}

# Start the scripted origin (etc/demo-origin.pl) inside a node's namespace on
# 127.0.0.1:$port (default 9000). Returns { port, pid, url, log, dir }, the shape
# AnyEdgeTest's origin_requests / origin_count read.
sub ns_start_origin {
    my ($node, $port) = @_;
    $port //= 9000;
    my $dir = temp_dir();
    my $origin = { dir => $dir, port => $port, url => "http://127.0.0.1:$port",
                   log => write_config($dir, '', 'requests.log') };
    $origin->{pid} = ns_spawn($node, [$^X, "$ROOT/etc/demo-origin.pl", '--listen', "127.0.0.1:$port",
                                      '--log', $origin->{log}], log => "$dir/output.log");
    ns_wait_listening($node, '127.0.0.1', $port)
        or die "demo origin in $node->{ns} not listening; its output:\n" . slurp("$dir/output.log");
    return $origin;
}

# Start anyedge inside a node's namespace, listening on 127.0.0.1:$args{port} (default 8080)
# and every "ADDR:PORT" of $args{extra_listen} (e.g. ["203.0.113.1:80"]); the other arguments
# are those of AnyEdgeTest's config_yaml (sites, extra_yaml, ...; cache_path defaults to a
# fresh directory). Waits until 127.0.0.1:PORT accepts connections. Returns
# { pid, port, conf, dir, cache_path, stderr_log }.
sub ns_start_anyedge {
    my ($node, %args) = @_;
    my $dir = temp_dir();
    $args{port} //= 8080;
    $args{cache_path} //= "$dir/cache";
    my $ae = { dir => $dir, port => $args{port}, cache_path => $args{cache_path},
               stderr_log => "$dir/anyedge.log",
               conf => write_config($dir, config_yaml(%args)) };
    $ae->{pid} = ns_spawn($node, [anyedge_bin(), '-c', $ae->{conf}], log => $ae->{stderr_log});
    my $exited;
    my $up = wait_until(WAIT_TIMEOUT, sub {
        return $exited = 1 if _exited($ae->{pid});
        return ns_wait_listening($node, '127.0.0.1', $args{port}, 0);
    }, 0.05);
    die "anyedge in $node->{ns} " . ($exited ? 'exited' : 'was not listening on port ' . $args{port})
        . "; its output:\n" . slurp($ae->{stderr_log}) if $exited || !$up;
    return $ae;
}

# Stop anyedge started by ns_start_anyedge ($signal default TERM); its exit result.
sub ns_stop_anyedge {
    my ($ae, $signal) = @_;
    return ns_stop($ae->{pid}, $signal);
}

1;
