# t/96-access-log.t -- the access log: log.access and log.format. Real
# requests through anyedge and the scripted origin (MISS, HIT, PASS, an origin
# failure, the router's 421), then every line is parsed and checked field by
# field: JSON lines with JSON::PP, combined lines with the format's own
# grammar (to stderr); over TLS (HTTP/1.1 and HTTP/2) the TLS version. SIGUSR1
# after a rename: the following lines go to the new file. A log path that
# cannot be written is a config error, for -t and at start-up; lines still
# buffered at SIGTERM are written.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time);
use Time::Local qw(timegm);
use Test::More;

my $origin = start_origin();
my $dir = temp_dir();
my $log = "$dir/access.log";
my $ae = start_anyedge(
    sites => [
        { host => 'example.test', aliases => ['alias.test'], origin => $origin->{url} },
        { host => 'refused.test', origin => 'http://127.0.0.1:' . empty_port() },
    ],
    extra_yaml => qq(log:\n  access: "$log"\n  format: json\n),
);
my %site = (port => $ae->{port}, host => 'example.test');

# The lines of a log file, once $count of them (default 1) contain $text (lines reach the file
# within a second).
sub log_lines {
    my ($file, $text, $count) = @_;
    my @lines;
    wait_until(5, sub { @lines = split /\n/, slurp($file); grep({ index($_, $text) >= 0 } @lines) >= ($count // 1) });
    return @lines;
}

# The JSON lines of the log for a URI, decoded, once there are $count (all lines, with $uri undef).
sub json_lines {
    my ($uri, $count) = @_;
    my @all = map { decode_json($_) } log_lines($log, $uri // '', $count);
    return defined $uri ? grep { $_->{uri} eq $uri } @all : @all;
}

my @FIELDS = qw(time client method uri protocol status bytes duration referer user_agent host site cache
                origin_status origin_first_byte origin_time tls);

subtest 'JSON: one object per request, field by field' => sub {
    my $ua = "tester \"quoted\" back\\slash caf\xc3\xa9 \xff";
    my $miss = http(%site, host => 'alias.test:8080', path => '/a?x=1&delay=0.2',
                    headers => ["User-Agent: $ua", 'Referer: http://ref.test/from']);
    is($miss->{headers}{'x-cache'}, 'MISS', 'a MISS');
    ok(settle_cache(%site), 'cache settled');
    my $hit = http(%site, path => '/a?x=1&delay=0.2');
    is($hit->{headers}{'x-cache'}, 'HIT', 'then a HIT');
    my $pass = http(%site, path => '/post', method => 'POST', data => 'body');
    is($pass->{headers}{'x-cache'}, 'PASS', 'a PASS');
    my $failed = http(%site, host => 'refused.test', path => '/refused');
    is($failed->{status}, 502, 'an origin failure');
    my $misdirected = http(%site, host => 'nowhere.test', path => '/421');
    is($misdirected->{status}, 421, 'a 421');

    json_lines($_) for '/a?x=1&delay=0.2', '/post', '/refused', '/421'; # each thread's lines are there
    my @lines = log_lines($log, '"/421"');
    cmp_ok(scalar @lines, '>=', 6, 'a line per request');
    for my $line (@lines) {
        my $entry = eval { decode_json($line) };
        ok($entry, 'valid JSON') or diag($line);
        is_deeply([ sort keys %{ $entry // {} } ], [ sort @FIELDS ], 'every field, nothing else') or diag($line);
    }
    my ($m) = json_lines('/a?x=1&delay=0.2');
    like($m->{time}, qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/, 'time: ISO 8601 UTC with ms');
    my ($Y, $M, $D, $hour, $min, $s) = $m->{time} =~ /(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)/;
    cmp_ok(abs(timegm($s, $min, $hour, $D, $M - 1, $Y) - $miss->{started}), '<', 3, 'time: when the request was made');
    is($m->{client}, '127.0.0.1', 'client');
    is($m->{method}, 'GET', 'method');
    is($m->{protocol}, 'HTTP/1.1', 'protocol');
    is($m->{status}, 200, 'status');
    is($m->{bytes}, length $miss->{body}, 'bytes: the body');
    cmp_ok($m->{duration}, '>=', 0.2, 'duration: at least the origin\'s delay');
    cmp_ok($m->{duration}, '<=', $miss->{time} + 0.05, 'duration: no longer than curl saw');
    is($m->{referer}, 'http://ref.test/from', 'referer');
    is($m->{user_agent}, "tester \"quoted\" back\\slash caf\x{e9} \x{ff}", 'user agent, escaped and read back');
    like(join('', @lines), qr/caf\xc3\xa9 \\u00ff/, 'valid UTF-8 as it is, a byte of invalid UTF-8 as \\u00XX');
    is($m->{host}, 'alias.test:8080', 'host: as the client sent it');
    is($m->{site}, 'example.test', 'site: the canonical host');
    is($m->{cache}, 'MISS', 'cache: X-Cache');
    is($m->{origin_status}, 200, 'origin status: fwd-status');
    cmp_ok($m->{origin_first_byte}, '>=', 0.2, 'origin first byte: the origin\'s delay');
    cmp_ok($m->{origin_time}, '>=', $m->{origin_first_byte}, 'origin time: at least the first byte');
    cmp_ok($m->{origin_time}, '<=', $m->{duration}, 'origin time: within the request');
    is($m->{tls}, '-', 'tls: "-" without TLS');

    my ($h) = grep { $_->{cache} eq 'HIT' } json_lines('/a?x=1&delay=0.2', 2);
    ok($h, 'the HIT has its line');
    is($h->{$_}, undef, "HIT: $_ null") for qw(origin_status origin_first_byte origin_time referer);
    is($h->{user_agent}, 'curl/' . ((`curl --version` =~ /\Acurl (\S+)/)[0] // ''), 'HIT: curl\'s user agent');
    is($h->{bytes}, length $hit->{body}, 'HIT: bytes');
    cmp_ok($h->{duration}, '<', 0.2, 'HIT: faster than the origin');

    my ($p) = json_lines('/post');
    is_deeply([ @$p{qw(method status cache origin_status site)} ], [ 'POST', 200, 'PASS', 200, 'example.test' ],
              'PASS: method, status, cache, origin status from the exchange');
    cmp_ok($p->{origin_time}, '>', 0, 'PASS: origin time');

    my ($f) = json_lines('/refused');
    is_deeply([ @$f{qw(status cache origin_status origin_first_byte site)} ], [ 502, 'MISS', undef, undef, 'refused.test' ],
              'origin failure: 502, no origin status, no first byte');
    ok(defined $f->{origin_time}, 'origin failure: the time until it failed');

    my ($r) = json_lines('/421');
    is_deeply([ @$r{qw(status host site cache origin_status origin_time)} ], [ 421, 'nowhere.test', undef, undef, undef, undef ],
              '421: no site, no cache, no origin');
    ok(!grep({ $_->{host} =~ /anyedge-health/ } json_lines()), 'the health self check is not logged');
};

subtest 'SIGUSR1 after a rename: the next lines go to the new file' => sub {
    my $before = http(%site, path => '/before-rotate');
    ok(scalar(json_lines('/before-rotate')), 'a line before the rotation');
    rename $log, "$log.1" or die "rename: $!";
    kill 'USR1', $ae->{pid};
    ok(wait_until(5, sub { -e $log }), 'the file is created again');
    my $after = http(%site, path => '/after-rotate');
    my @new = log_lines($log, '/after-rotate');
    is(scalar @new, 1, 'the new file has one line');
    is(eval { decode_json($new[0])->{uri} }, '/after-rotate', '...the request after the signal');
    my @old = split /\n/, slurp("$log.1");
    ok(scalar(grep { /before-rotate/ } @old), 'the renamed file kept the earlier lines');
    ok(!grep({ /after-rotate/ } @old), '...and has none after the signal');
    like(slurp($ae->{stderr_log}), qr/access log reopened: \Q$log\E/, 'the reopening is logged');
};

subtest 'lines still buffered at SIGTERM are written' => sub {
    http(%site, path => '/last-words');
    is(stop_anyedge($ae), 0, 'stops cleanly');
    ok(scalar(grep { /last-words/ } split /\n/, slurp($log)), 'the last request is in the log');
};

subtest 'combined, to stderr' => sub {
    my $c = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ],
                          extra_yaml => "log: { access: stderr, format: combined }\n");
    my $ua = 'agent "with" quotes';
    my $r = http(port => $c->{port}, host => 'example.test', path => '/c?q="x"', headers => ["User-Agent: $ua"]);
    http(port => $c->{port}, host => 'example.test', path => '/c2', headers => ['Referer: http://r.test/'], http_version => '1.0');
    my $combined = qr{\A(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"\z};
    my @lines;
    wait_until(5, sub { @lines = grep { /\] "GET \/c/ } split /\n/, slurp($c->{stderr_log}); @lines >= 2 });
    is(scalar @lines, 2, 'two lines among the daemon\'s messages');
    my @f = $lines[0] =~ $combined;
    ok(@f, 'the combined format') or diag($lines[0]);
    is($f[0], '127.0.0.1', 'remote host');
    like($f[1], qr{\A\d\d/\w{3}/\d{4}}, 'time');
    is($f[2], 'GET /c?q=\"x\" HTTP/1.1', 'request line, quotes escaped');
    is($f[3], 200, 'status');
    is($f[4], length $r->{body}, 'body bytes');
    is($f[5], '-', 'no referer: -');
    is($f[6], 'agent \"with\" quotes', 'user agent, quotes escaped');
    my @g = $lines[1] =~ $combined;
    is($g[2], 'GET /c2 HTTP/1.0', 'HTTP/1.0 request line');
    is($g[5], 'http://r.test/', 'referer');
    is(stop_anyedge($c), 0, 'stops cleanly');
};

subtest 'TLS: the version, HTTP/2' => sub {
    my ($crt, $key) = ("$dir/tls.crt", "$dir/tls.key");
    system('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', $key,
           '-out', $crt, '-days', '2', '-subj', '/CN=tls.test', '-addext', 'subjectAltName=DNS:tls.test') == 0
        or die "openssl req failed\n";
    my $tls_port = empty_port();
    my $tls_log = "$dir/tls-access.log";
    my $t = start_anyedge(sites => [ { host => 'tls.test', origin => $origin->{url}, extra => { tls => { certificate => $crt, key => $key } } } ],
                          extra_listen => [ { address => "127.0.0.1:$tls_port", tls => 'true' } ],
                          extra_yaml => qq(log: { access: "$tls_log", format: json }\n));
    for my $case ([ '--http1.1', '/tls-h1', 'HTTP/1.1' ], [ '--http2', '/tls-h2', 'HTTP/2' ]) {
        my ($option, $path, $protocol) = @$case;
        my $code = `curl -sS -k $option -o /dev/null -w '%{http_code}' --resolve tls.test:$tls_port:127.0.0.1 https://tls.test:$tls_port$path`;
        is($code, 200, "$protocol over TLS: 200");
        my ($line) = grep { index($_, $path) >= 0 } log_lines($tls_log, $path);
        my $entry = eval { decode_json($line // '') } // {};
        like($entry->{tls} // '', qr/\ATLSv1\.[23]\z/, "$protocol: tls is the version ($entry->{tls})");
        is($entry->{protocol}, $protocol, "$protocol: protocol");
        is($entry->{site}, 'tls.test', "$protocol: site");
    }
    is(stop_anyedge($t), 0, 'stops cleanly');
};

subtest 'a log path that cannot be opened, a bad format' => sub {
    my $cdir = temp_dir();
    my $base = config_yaml(port => empty_port(), cache_path => "$cdir/cache",
                           sites => [ { host => 'example.test', origin => $origin->{url} } ]);
    my $conf = write_config($cdir, $base . "log:\n  access: /nonexistent-anyedge-dir/access.log\n");
    my ($exit, $stderr) = run_anyedge_check($conf);
    is($exit, 1, 'anyedge -t exits 1');
    like($stderr, qr{\A\Q$conf\E:\d+: 'log\.access': cannot write '/nonexistent-anyedge-dir/access\.log': No such file or directory\n\z},
         'FILE:LINE: what and why');
    my $run = run_anyedge('-c', $conf);
    is($run->{exit}, 1, 'the daemon does not start');
    like($run->{stderr}, qr{'log\.access': cannot write '/nonexistent-anyedge-dir/access\.log'}, 'with the same message');

    $conf = write_config($cdir, $base . "log:\n  access: $cdir/not-yet.log\n", 'commands.conf');
    ($exit) = run_anyedge_check($conf);
    is($exit, 0, '-t with a log that does not exist yet in a writable directory: fine');
    run_anyedge('cache', 'stats', '-c', $conf);
    ok(!-e "$cdir/not-yet.log", 'neither -t nor a command creates the log (only the daemon opens it)');

    $conf = write_config($cdir, $base . "log:\n  access: $cdir/ok.log\n  format: apache\n", 'bad-format.conf');
    ($exit, $stderr) = run_anyedge_check($conf);
    is($exit, 1, 'unknown format: exit 1');
    like($stderr, qr{'log\.format': unknown value 'apache' \(expected one of: combined, json\)}, 'names the choices');
};

done_testing;
