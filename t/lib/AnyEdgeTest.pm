package AnyEdgeTest;
# AnyEdgeTest -- helpers shared by the t/*.t integration tests: starting the
# scripted origin (etc/demo-origin.pl) and the anyedge daemon, writing daemon
# configs, running the CLI, and making HTTP requests with curl.
#
# Every process started here is stopped when the test script exits, and every
# file lives in a temporary directory removed at exit.

use strict;
use warnings;
use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use List::Util qw(min);
use POSIX qw(WNOHANG _exit);
use Test::More;
use Test::TCP qw(empty_port);
use Time::HiRes qw(sleep time);

our @EXPORT = qw(
    temp_dir slurp wait_until http_date query_escape origin_path
    start_origin origin_requests origin_requests_for origin_count
    origin_conditional_count expected_body parse_echo body_is
    blackhole_port empty_port
    anyedge_bin config_yaml write_config run_anyedge run_anyedge_check
    start_anyedge restart_anyedge stop_anyedge kill_anyedge_hard anyedge_running
    http http_batch http_parallel wait_for_hit settle_cache miss_then_hit
    cache_status cache_status_is MAYBE served_ok store_object stored_ok not_stored_ok
    damage_records
);

my $ROOT = abs_path(dirname(__FILE__) . '/../..');

# Bound on every wait for a process to start listening or to exit (seconds).
use constant STARTUP_TIMEOUT => 10;
use constant EXIT_TIMEOUT    => 10;

# Separates the per-transfer records curl writes with --write-out.
my $CURL_RECORD_END = '--anyedge-test-record-end--';

# --- small utilities --------------------------------------------------------

sub temp_dir { tempdir('anyedge-test-XXXXXX', TMPDIR => 1, CLEANUP => 1) }

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return '';
    local $/;
    return scalar <$fh>;
}

sub _spew {
    my ($path, $content) = @_;
    open my $fh, '>:raw', $path or die "cannot write $path: $!\n";
    print {$fh} $content;
    close $fh or die "cannot write $path: $!\n";
    return $path;
}

# An HTTP date (RFC 9110 IMF-fixdate) for a Unix time.
sub http_date {
    my ($time) = @_;
    my @t = gmtime $time;
    return sprintf('%s, %02d %s %04d %02d:%02d:%02d GMT',
        (qw(Sun Mon Tue Wed Thu Fri Sat))[ $t[6] ], $t[3],
        (qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec))[ $t[4] ],
        $t[5] + 1900, @t[2, 1, 0]);
}

# Percent-encode a string for use as a query parameter value.
sub query_escape {
    my ($s) = @_;
    return $s =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ger;
}

# A path with a query of scripted-origin parameters, each value escaped:
# origin_path('/p', cc => 'max-age=5', h => 'Age: 2') is
# "/p?cc=max-age%3D5&h=Age%3A%202".  Parameters may repeat.
sub origin_path {
    my ($path, @params) = @_;
    my @pairs;
    while (my ($key, $value) = splice @params, 0, 2) {
        push @pairs, "$key=" . query_escape($value);
    }
    return @pairs ? "$path?" . join('&', @pairs) : $path;
}

# Call $check every $interval seconds until it returns true (its value is then
# returned) or $timeout seconds have passed (then false is returned).
sub wait_until {
    my ($timeout, $check, $interval) = @_;
    my $deadline = time + $timeout;
    while (1) {
        my $result = $check->();
        return $result if $result;
        return 0 if time >= $deadline;
        sleep($interval // 0.1);
    }
}

# --- child processes ----------------------------------------------------------

my %LIVE;      # pid => 1 for every process started here and not yet reaped
my @DAEMONS;   # every daemon started by start_anyedge

# Start @$cmd with stdin from /dev/null and stdout/stderr appended to files.
sub _spawn {
    my ($cmd, $stdout, $stderr) = @_;
    $stderr //= $stdout;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $stdout or _exit(126);
        if ($stderr eq $stdout) {
            open STDERR, '>&', \*STDOUT or _exit(126);
        } else {
            open STDERR, '>>', $stderr or _exit(126);
        }
        exec @$cmd or _exit(127);
    }
    $LIVE{$pid} = 1;
    return $pid;
}

# Wait up to $timeout seconds for $pid to exit; its wait status, or undef.
sub _reap {
    my ($pid, $timeout) = @_;
    my $status;
    wait_until($timeout, sub {
        return 0 if waitpid($pid, WNOHANG) != $pid;
        $status = $?;
        delete $LIVE{$pid};
        return 1;
    }, 0.02);
    return $status;
}

# A wait status as tests compare it: the exit code, or "signal N".
sub _exit_result {
    my ($status) = @_;
    return undef unless defined $status;
    return $status & 127 ? 'signal ' . ($status & 127) : $status >> 8;
}

# Send $signal and wait for the exit; the exit result, or undef if the process
# had to be SIGKILLed after EXIT_TIMEOUT seconds.
sub _stop {
    my ($pid, $signal) = @_;
    kill $signal, $pid;
    my $status = _reap($pid, EXIT_TIMEOUT);
    return _exit_result($status) if defined $status;
    diag("process $pid ignored SIG$signal for " . EXIT_TIMEOUT . "s; killing it");
    kill 'KILL', $pid;
    _reap($pid, EXIT_TIMEOUT);
    return undef;
}

END {
    local $?;  # keep the test script's exit status
    if (!Test::More->builder->is_passing) {
        for my $ae (@DAEMONS) {
            my @lines = split /^/m, slurp($ae->{stderr_log});
            splice @lines, 0, -40 if @lines > 40;
            diag("output of anyedge (last 40 lines of $ae->{stderr_log}):\n", @lines);
        }
    }
    kill 'TERM', keys %LIVE;
    for my $pid (keys %LIVE) {
        next if defined _reap($pid, EXIT_TIMEOUT);
        kill 'KILL', $pid;
        _reap($pid, EXIT_TIMEOUT);
    }
}

# Wait until something accepts TCP connections on 127.0.0.1:$port; die (with
# the process's log) if $pid exits first or STARTUP_TIMEOUT passes.
sub _wait_listening {
    my ($what, $pid, $port, $log) = @_;
    my $exited;
    my $up = wait_until(STARTUP_TIMEOUT, sub {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $LIVE{$pid};
            $exited = _exit_result($?);
            return 1;
        }
        return IO::Socket::INET->new(
            PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1);
    }, 0.05);
    my $problem = defined $exited ? "exited ($exited) before listening"
                : !$up            ? "was not listening after " . STARTUP_TIMEOUT . "s"
                :                   undef;
    return unless $problem;
    die "$what (pid $pid) $problem on port $port; its output:\n" . slurp($log);
}

# --- the scripted origin ------------------------------------------------------

# Start etc/demo-origin.pl on a free port (or on $args{port}).  Returns
# { port, pid, url => "http://127.0.0.1:PORT", log => request log, dir }.
sub start_origin {
    my (%args) = @_;
    my $dir = temp_dir();
    my $port = $args{port} // empty_port();
    my $origin = {
        dir => $dir, port => $port, url => "http://127.0.0.1:$port",
        log => _spew("$dir/requests.log", ''),
    };
    $origin->{pid} = _spawn(
        [$^X, "$ROOT/etc/demo-origin.pl", '--listen', "127.0.0.1:$port",
         '--log', $origin->{log}],
        "$dir/output.log");
    _wait_listening('demo-origin', $origin->{pid}, $port, "$dir/output.log");
    return $origin;
}

# Every request the origin received, in order, as [METHOD, URI, { inm, ims,
# range }]: the hash holds the request's If-None-Match, If-Modified-Since and
# Range headers, those it had (the origin logs them percent-encoded).
sub origin_requests {
    my ($origin) = @_;
    open my $fh, '<', $origin->{log} or die "cannot read $origin->{log}: $!\n";
    return map {
        chomp;
        my ($method, $uri, @fields) = split / /;
        [$method, $uri, { map {
            my ($key, $value) = split /=/, $_, 2;
            ($key => $value =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ger);
        } @fields }];
    } <$fh>;
}

# The requests (as origin_requests) the origin received for a URI: a string
# compared exactly, or a qr// matched against the URI.  In scalar context, how
# many there were.
sub origin_requests_for {
    my ($origin, $uri) = @_;
    my $matches = ref $uri ? sub { $_[0] =~ $uri } : sub { $_[0] eq $uri };
    return grep { $matches->($_->[1]) } origin_requests($origin);
}

# How many requests the origin received for a URI (as for origin_requests_for).
sub origin_count {
    my ($origin, $uri) = @_;
    return scalar origin_requests_for($origin, $uri);
}

# How many of them were conditional (If-None-Match or If-Modified-Since).
sub origin_conditional_count {
    my ($origin, $uri) = @_;
    return scalar grep { exists $_->[2]{inm} || exists $_->[2]{ims} }
        origin_requests_for($origin, $uri);
}

# The body the origin sends for size=$size: the lines sprintf("%015x\n", $i)
# for i = 0, 1, ... truncated to $size bytes (memoized).  The origin is a
# standalone script, so it spells out the same definition itself.
my %expected_body;
sub expected_body {
    my ($size) = @_;
    return $expected_body{$size} //= do {
        my $body = '';
        $body .= sprintf("%015x\n", $_) for 0 .. int(($size + 15) / 16) - 1;
        substr($body, 0, $size);
    };
}

# Test that a (possibly large) body is as expected, without printing it all.
sub body_is {
    my ($got, $expected, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return 1 if ok($got eq $expected, $name);
    my $at = ($got ^ $expected) =~ /[^\0]/ ? $-[0] : min(length $got, length $expected);
    diag(sprintf "got %d bytes, expected %d; from offset %d:\n  got:      '%s'\n  expected: '%s'",
         length $got, length $expected, $at,
         map { substr($_, $at, 32) =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ger } $got, $expected);
    return 0;
}

# Split an echo=1 body into { request_line, method, uri, headers => [[name,
# value], ...], header => { lc name => value (repeats joined by ", ") }, body }.
sub parse_echo {
    my ($text) = @_;
    my ($head, $body) = split /\n\n/, $text, 2;
    my ($request_line, @lines) = split /\n/, $head;
    my %echo = (request_line => $request_line, body => $body // '', headers => []);
    @echo{qw(method uri)} = split / /, $request_line;
    for my $line (@lines) {
        my ($name, $value) = $line =~ /\A([^:]+):[ \t]*(.*?)[ \t]*\z/ or next;
        push @{ $echo{headers} }, [$name, $value];
        my $key = lc $name;
        $echo{header}{$key} = exists $echo{header}{$key}
            ? "$echo{header}{$key}, $value" : $value;
    }
    return \%echo;
}

# A port on 127.0.0.1 where TCP connects hang: a listening socket that never
# accepts, whose accept queue is already full, so the kernel drops new SYNs.
# Keep the returned { port, ... } alive for as long as the port is needed.
sub blackhole_port {
    my $listener = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp')
        or die "blackhole_port: bind: $!\n";
    # (IO::Socket's listen() would turn a backlog of 0 into 5.)
    CORE::listen($listener, 0) or die "blackhole_port: listen: $!\n";
    my $port = $listener->sockport;
    my @queued = map {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                              Blocking => 0)
            // die "blackhole_port: connect: $!\n";
    } 1 .. 4;
    sleep 0.1;  # let the handshakes that still fit complete
    my $probe = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 0.3);
    die "blackhole_port: a connect to port $port completed\n" if $probe;
    return { port => $port, listener => $listener, queued => \@queued };
}

# --- the anyedge daemon -------------------------------------------------------

# The daemon binary: $ANYEDGE_BIN, else build/anyedge in the repository.
sub anyedge_bin {
    my $bin = $ENV{ANYEDGE_BIN} // "$ROOT/build/anyedge";
    BAIL_OUT("anyedge binary $bin is missing or not executable (build it first)")
        unless -f $bin && -x _;
    return $bin;
}

sub _yaml_str {
    my ($s) = @_;
    $s =~ s/([\\"])/\\$1/g;
    return qq("$s");
}

# A YAML block mapping of raw values (nested for values that are hashrefs),
# keys sorted, each line starting with $indent.
sub _yaml_mapping {
    my ($mapping, $indent) = @_;
    return join '', map {
        my $value = $mapping->{$_};
        ref $value eq 'HASH' ? "$indent$_:\n" . _yaml_mapping($value, "$indent  ")
                             : "$indent$_: $value\n";
    } sort keys %$mapping;
}

# A listen entry: "ADDR:PORT", or a hashref written as a flow mapping
# ({ address => "ADDR:PORT", tls => 'true' } is {address: "ADDR:PORT", tls: true}).
sub _yaml_listen {
    my ($entry) = @_;
    return _yaml_str($entry) unless ref $entry;
    return '{' . join(', ', map { "$_: " . ($_ eq 'address' ? _yaml_str($entry->{$_}) : $entry->{$_}) } sort keys %$entry) . '}';
}

# The text of a daemon config listening on 127.0.0.1:$args{port}.  Arguments:
#   port, cache_path (required), cache_size (default 64M), max_object_size, threads (default 2),
#   sites => [ { host, origin, aliases => [...], extra => { key => value } } ]
#     (a value is raw YAML text, or a hashref for a nested mapping: extra =>
#     { cache => { 'negative-ttl' => { 404 => '30s' } } }),
#   extra_listen => [ "ADDR:PORT", { address => "ADDR:PORT", tls => 'true' }, ... ] (more listen
#     addresses; a hashref is a listen entry written as a mapping),
#   extra_yaml (raw text appended at top level).
sub config_yaml {
    my (%args) = @_;
    my $yaml = "listen:\n"
             . join('', map { '  - ' . _yaml_listen($_) . "\n" } "127.0.0.1:$args{port}", @{ $args{extra_listen} // [] })
             . 'threads: ' . ($args{threads} // 2) . "\n"
             . "cache:\n"
             . '  path: ' . _yaml_str($args{cache_path}) . "\n"
             . '  size: ' . ($args{cache_size} // '64M') . "\n"
             . ($args{max_object_size} ? "  max-object-size: $args{max_object_size}\n" : '')
             . "sites:\n";
    for my $site (@{ $args{sites} }) {
        $yaml .= '  - host: ' . _yaml_str($site->{host}) . "\n";
        $yaml .= '    aliases: [' . join(', ', map { _yaml_str($_) } @{ $site->{aliases} }) . "]\n"
            if $site->{aliases};
        $yaml .= '    origin: ' . _yaml_str($site->{origin}) . "\n";
        $yaml .= _yaml_mapping($site->{extra} // {}, '    ');
    }
    return $yaml . ($args{extra_yaml} // '');
}

# Write a config file into $dir (named $name, default anyedge.conf); its path.
sub write_config {
    my ($dir, $yaml, $name) = @_;
    return _spew("$dir/" . ($name // 'anyedge.conf'), $yaml);
}

# Run the binary to completion with @args (bounded by EXIT_TIMEOUT).  Returns
# { exit => code or "signal N", stdout, stderr }.
sub run_anyedge {
    my (@args) = @_;
    my $dir = temp_dir();
    my $pid = _spawn([anyedge_bin(), @args], "$dir/stdout", "$dir/stderr");
    my $exit = _exit_result(_reap($pid, EXIT_TIMEOUT));
    if (!defined $exit) {
        kill 'KILL', $pid;
        _reap($pid, EXIT_TIMEOUT);
        die "anyedge @args did not exit within " . EXIT_TIMEOUT . "s\n";
    }
    return { exit => $exit, stdout => slurp("$dir/stdout"), stderr => slurp("$dir/stderr") };
}

# `anyedge -t -c $conf`: (exit code, stderr text).
sub run_anyedge_check {
    my ($conf) = @_;
    my $result = run_anyedge('-t', '-c', $conf);
    return ($result->{exit}, $result->{stderr});
}

# Start the daemon on a free port with a generated config (arguments as for
# config_yaml, minus port; cache_path defaults to a fresh directory).  Returns
# { port, pid, dir, conf, cache_path, stderr_log }.
sub start_anyedge {
    my (%args) = @_;
    my $dir = temp_dir();
    my $ae = {
        dir => $dir, port => empty_port(), stderr_log => "$dir/anyedge.log",
        cache_path => $args{cache_path} // "$dir/cache",
    };
    $ae->{conf} = write_config($dir, config_yaml(
        %args, port => $ae->{port}, cache_path => $ae->{cache_path}));
    push @DAEMONS, $ae;
    return _launch_anyedge($ae);
}

sub _launch_anyedge {
    my ($ae) = @_;
    $ae->{pid} = _spawn([anyedge_bin(), '-c', $ae->{conf}], $ae->{stderr_log});
    _wait_listening('anyedge', $ae->{pid}, $ae->{port}, $ae->{stderr_log});
    return $ae;
}

# Start the daemon again with the same config and port (stopping it first with
# SIGTERM if it is running).  Its output is appended to the same log.
sub restart_anyedge {
    my ($ae) = @_;
    stop_anyedge($ae) if $ae->{pid};
    return _launch_anyedge($ae);
}

# Signal the daemon (default SIGTERM) and wait for it to exit.  Returns the exit
# code, "signal N", or undef if it did not exit in time (it is then SIGKILLed).
sub stop_anyedge {
    my ($ae, $signal) = @_;
    my $result = _stop($ae->{pid}, $signal // 'TERM');
    $ae->{pid} = undef;
    return $result;
}

sub kill_anyedge_hard {
    my ($ae) = @_;
    return stop_anyedge($ae, 'KILL');
}

# True if the daemon is still running.  If it has exited, it is reaped and its
# exit result ("signal 6", ...) is kept in $ae->{exit}.
sub anyedge_running {
    my ($ae) = @_;
    return 0 unless $ae->{pid};
    return 1 if waitpid($ae->{pid}, WNOHANG) != $ae->{pid};
    delete $LIVE{ $ae->{pid} };
    $ae->{exit} = _exit_result($?);
    $ae->{pid} = undef;
    return 0;
}

# --- HTTP requests with curl ---------------------------------------------------

# Request each of @{$args{paths}} from http://127.0.0.1:$args{port} in order,
# with a single curl process (so a persistent connection is reused).
# Arguments:
#   port, paths => [...], host (sent as the Host header; default: curl's own),
#   no_host => 1 (send no Host header), method (default GET; HEAD uses -I),
#   headers => ["Name: value", ...], data => request body,
#   max_time (per request, default 10), http_version ('1.1' or '1.0').
# Returns one hashref per path: { status (0 if no response), headers
# (lc name => value, repeats joined by ", "), header_list (lc name => [values]),
# body ('' for HEAD), curl_exit, time (seconds), first_byte (seconds until
# the first byte of the response arrived), started (when curl was started, a
# fractional Unix time) }.
sub http_batch {
    my (%args) = @_;
    return _curl_finish(_curl_start(%args));
}

# Start the curl process of http_batch; what _curl_finish needs.
sub _curl_start {
    my (%args) = @_;
    my $dir = temp_dir();
    my $method = $args{method} // 'GET';
    my @options = (
        '-sS', '--stderr', "$dir/curl.err",
        '--max-time', $args{max_time} // 10,
        ($args{http_version} // '1.1') eq '1.0' ? '--http1.0' : '--http1.1',
        '--write-out', '%{exitcode} %{http_code} %{time_total} %{time_starttransfer} %{header_json}\n'
                       . $CURL_RECORD_END . '\n',
    );
    push @options, '-H', "Host: $args{host}" if defined $args{host};
    push @options, '-H', 'Host:' if $args{no_host};
    push @options, '-H', $_ for @{ $args{headers} // [] };
    push @options, $method eq 'HEAD' ? '-I' : $method eq 'GET' ? () : ('-X', $method);
    push @options, '--data-binary', '@' . _spew("$dir/request-body", $args{data})
        if defined $args{data};

    # The URLs go into a config file: a batch can be longer than a command line.
    my @paths = @{ $args{paths} };
    _spew("$dir/urls", join '', map {
        my $url = "http://127.0.0.1:$args{port}$paths[$_]" =~ s/([\\"])/\\$1/gr;
        qq(url = "$url"\noutput = "$dir/body.$_"\n);
    } 0 .. $#paths);

    my $started = time;
    open my $curl, '-|', 'curl', @options, '--config', "$dir/urls"
        or die "cannot run curl: $!\n";
    return { curl => $curl, dir => $dir, method => $method, count => scalar @paths,
             started => $started };
}

# Wait for a curl process started by _curl_start; the responses of http_batch.
sub _curl_finish {
    my ($run) = @_;
    my $dir = $run->{dir};
    my $out = do { local $/; readline $run->{curl} } // '';
    close $run->{curl};
    my @records = split /^\Q$CURL_RECORD_END\E\n/m, $out;
    die "curl reported " . @records . " transfers for $run->{count} URLs:\n"
        . slurp("$dir/curl.err") unless @records == $run->{count};

    return map {
        my ($exit, $status, $time, $first_byte, $json) =
            $records[$_] =~ /\A(\d+) (\d+) (\S+) (\S+) (.*)\z/s
            or die "cannot parse curl output: $records[$_]\n";
        my $header_list = decode_json($json);
        +{
            status => $status + 0, curl_exit => $exit + 0, time => $time + 0,
            first_byte => $first_byte + 0, started => $run->{started},
            header_list => $header_list,
            headers => { map { $_ => join ', ', @{ $header_list->{$_} } } keys %$header_list },
            body => $run->{method} eq 'HEAD' ? '' : slurp("$dir/body.$_"),
        }
    } 0 .. $#records;
}

# Make $args{count} requests at the same time, each on its own connection
# (its own curl process); the other arguments are as for http.  Returns the
# responses, as http does, in the order the requests were started.
sub http_parallel {
    my (%args) = @_;
    my $count = delete $args{count};
    my $path = delete $args{path};
    my @runs = map { _curl_start(%args, paths => [$path]) } 1 .. $count;
    return map { _curl_finish($_) } @runs;
}

# One request (arguments as for http_batch, with path instead of paths).
sub http {
    my (%args) = @_;
    my $path = delete $args{path};
    my ($response) = http_batch(%args, paths => [$path]);
    return $response;
}

# Repeat a GET (arguments as for http) until it is a cache HIT or $timeout
# (default 5) seconds pass.  Returns the last response and how many responses
# were not HITs (each of them may have reached the origin).
sub wait_for_hit {
    my (%args) = @_;
    my $timeout = delete $args{timeout} // 5;
    my ($response, $misses) = (undef, 0);
    wait_until($timeout, sub {
        $response = http(%args);
        return 1 if ($response->{headers}{'x-cache'} // '') eq 'HIT';
        $misses++;
        return 0;
    });
    return ($response, $misses);
}

# Wait until the cache has stored everything fetched so far: fetch a new
# cacheable URL and wait for it to become a HIT, relying on stores completing
# in order.  Arguments: port, host.  True on success.
my $settle_serial = 0;
sub settle_cache {
    my (%args) = @_;
    my $path = "/anyedge-test-settle?pid=$$&n=" . ++$settle_serial;
    my ($response) = wait_for_hit(%args, path => $path);
    return ($response->{headers}{'x-cache'} // '') eq 'HIT';
}

# Fetch a URL that is not cached yet, then repeat it until it is a HIT, testing
# that the first response is a 200 MISS, that a HIT with the same body follows
# within 5s, and that the origin saw one request in all: requests made while the
# object is being stored are served from the fetch that stores it.  Arguments:
# origin, plus those of http.  Returns (MISS, HIT) responses.
sub miss_then_hit {
    my (%args) = @_;
    my $origin = delete $args{origin};
    my $path = $args{path};
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $miss = http(%args);
    is($miss->{status}, 200, "$path: status 200");
    is($miss->{headers}{'x-cache'}, 'MISS', "$path: first response is a MISS");
    my ($hit, $misses) = wait_for_hit(%args);
    is($hit->{headers}{'x-cache'}, 'HIT', "$path: becomes a HIT");
    is($hit->{status}, 200, "$path: HIT status 200");
    body_is($hit->{body}, $miss->{body}, "$path: HIT body is the MISS body");
    is(origin_count($origin, $path), 1, "$path: origin contacted once");
    note("$path: $misses more response(s) before the first HIT") if $misses;
    return ($miss, $hit);
}

# --- Cache-Status (RFC 9211) and what was stored ---------------------------------

# In the parameters expected by cache_status_is: present with any value, or
# absent.
use constant MAYBE => \'MAYBE';

# The parameters of the "anyedge" member of a response's Cache-Status, as a
# hashref name => value (1 for a parameter without value; a quoted string's
# quotes removed), or undef if there is no such member.  (Members are split at
# commas, so a quoted value must not contain one.)
sub cache_status {
    my ($r) = @_;
    for my $member (split /\s*,\s*/, $r->{headers}{'cache-status'} // '') {
        my ($name, @params) = split /\s*;\s*/, $member;
        next unless $name eq 'anyedge';
        return { map { /\A([^=]+)=(.*)\z/ ? ($1 => $2 =~ s/\A"(.*)"\z/$1/r) : ($_ => 1) } @params };
    }
    return undef;
}

# Test that the "anyedge" member of a response's Cache-Status has exactly the
# parameters of %$expected, in any order.  Each expected value is 1 (a
# parameter without value), a string (compared exactly), [MIN, MAX] (an
# integer in that range), a qr// (matched), undef (must be absent) or MAYBE
# (present or not).  Returns the parameters, as cache_status does.
sub cache_status_is {
    my ($r, $expected, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $got = cache_status($r);
    my @problems = $got ? () : ('no "anyedge" member');
    for my $key ($got ? sort keys %$expected : ()) {
        my ($want, $have) = ($expected->{$key}, $got->{$key});
        next if ref $want && $want == MAYBE;
        if (!defined $want || !defined $have) {
            push @problems, defined $have ? "$key should be absent" : "$key is missing"
                if defined $want || defined $have;
            next;
        }
        my $good = ref $want eq 'ARRAY'  ? $have =~ /\A-?\d+\z/ && $have >= $want->[0] && $have <= $want->[1]
                 : ref $want eq 'Regexp' ? $have =~ $want
                 :                         $have eq $want;
        push @problems, "$key=$have, expected " . (ref $want eq 'ARRAY' ? "$want->[0]..$want->[1]" : $want)
            unless $good;
    }
    push @problems, map { "unexpected $_" } grep { !exists $expected->{$_} } sort keys %{ $got // {} };
    ok(!@problems, $name)
        or diag("Cache-Status: ", $r->{headers}{'cache-status'} // '(none)', "\n", map { "  $_\n" } @problems);
    return $got;
}

# Test a response: its status (default 200) and, when given, x_cache (the
# X-Cache value; for HIT, STALE and REVALIDATED also that there is an integer
# Age), cache_status (as for cache_status_is), body (exact) and min_age (Age
# at least this).  $name starts each test's name.  Returns the response.
sub served_ok {
    my ($r, $name, %expect) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $status = $expect{status} // 200;
    is($r->{status}, $status, "$name: status $status");
    if (defined(my $x_cache = $expect{x_cache})) {
        is($r->{headers}{'x-cache'}, $x_cache, "$name: X-Cache: $x_cache");
        like($r->{headers}{age} // '', qr/\A\d+\z/, "$name: an Age header")
            if $x_cache =~ /\A(?:HIT|STALE|REVALIDATED)\z/;
    }
    cache_status_is($r, $expect{cache_status}, "$name: Cache-Status") if $expect{cache_status};
    body_is($r->{body}, $expect{body}, "$name: body") if defined $expect{body};
    cmp_ok($r->{headers}{age} // -1, '>=', $expect{min_age}, "$name: Age >= $expect{min_age}")
        if defined $expect{min_age};
    return $r;
}

# Fetch a URL that is not cached yet and wait until the cache has stored it
# (with settle_cache, so a short-lived object need not be fresh any more by
# then).  Tests that the response is a 200 MISS whose Cache-Status says it was
# stored.  Arguments as for http; returns the response.
sub store_object {
    my (%args) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $r = served_ok(http(%args), "$args{path}: first request", x_cache => 'MISS',
        cache_status => { fwd => 'uri-miss', 'fwd-status' => 200, stored => 1 });
    ok(settle_cache(port => $args{port}, host => $args{host}), "$args{path}: cache settled");
    return $r;
}

# Test that the origin's response for $args{path} was stored: once the cache
# has settled, the request (arguments as for http, plus origin) is a HIT and
# does not reach the origin.  Returns that response.
sub stored_ok {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return _request_after_settle(1, @_);
}

# Test that it was not stored: the request is then a MISS and reaches the
# origin once more.  Returns that response.
sub not_stored_ok {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return _request_after_settle(0, @_);
}

sub _request_after_settle {
    my ($stored, %args) = @_;
    my $origin = delete $args{origin};
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok(settle_cache(port => $args{port}, host => $args{host}), "$args{path}: cache settled");
    my $count = origin_count($origin, $args{path});
    my $r = http(%args);
    # A response that is stale on arrival but has a validator may be kept to be revalidated:
    # then the next request reaches the origin as a conditional one (REVALIDATED).
    like($r->{headers}{'x-cache'} // '', $stored ? qr/\AHIT\z/ : qr/\A(?:MISS|REVALIDATED)\z/,
       "$args{path}: the next request is " . ($stored ? 'a HIT' : 'not answered from the cache'));
    is(origin_count($origin, $args{path}), $count + ($stored ? 0 : 1),
       "$args{path}: " . ($stored ? 'origin not contacted again' : 'origin contacted again'));
    return $r;
}

# Rewrite object records in the stopped daemon's LMDB store with lmdb-utils:
# $damage maps a cache key ("host/path") to a function of the record's bytes
# as a hex string that returns the damaged hex.  Returns how many records it
# found and rewrote.
sub damage_records {
    my ($ae, $damage) = @_;
    my $dump = `mdb_dump -s objects '$ae->{cache_path}'`;
    die "mdb_dump failed\n" if $?;
    my $found = 0;
    for my $key (keys %$damage) {
        my $key_hex = unpack('H*', $key);
        $found += $dump =~ s/^ (\w*\Q$key_hex\E\w*)$/' ' . $damage->{$key}->($1)/me;
    }
    $dump =~ s/^db_pagesize=.*\n//m;  # written by mdb_dump, not understood by this mdb_load
    my $file = write_config($ae->{dir}, $dump, 'objects.dump');
    system('mdb_load', '-s', 'objects', '-f', $file, $ae->{cache_path});
    die "mdb_load failed\n" if $?;
    return $found;
}

1;
