#!/usr/bin/perl
# demo-origin.pl -- the scripted HTTP/1.1 origin server used by the test suite
# (t/) and as the demo origin behind `make run`.
#
# Usage: perl etc/demo-origin.pl --listen ADDR:PORT [--log FILE]
#        (ADDR may be an IPv6 address in brackets: "[::1]:9000")
#
# One process per connection, persistent connections per HTTP/1.1.  Every
# request received is appended to the log file as one line "METHOD URI", then
# " inm=VALUE" if it carried If-None-Match, " ims=VALUE" for If-Modified-Since
# and " range=VALUE" for Range (each VALUE percent-encoded: "%", spaces and
# control characters become %XX), then "\n".  Without --log the same lines go
# to a temporary file: the per-URI request counts below are read from it.
#
# The response is chosen by query parameters (URL-decoded), so every test URL
# describes itself:
#   status=N        response status (default 200); for status=206 pass the
#                   Content-Range with h=
#   cc=VALUE        Cache-Control value; default "max-age=60"; "cc=" sends none
#   h=Name:Value    extra response header (repeatable)
#   size=N          body of N bytes: sprintf("%015x\n", $i) for i = 0, 1, ...
#                   truncated to N bytes (application/octet-stream)
#   chunked=1       send the body with Transfer-Encoding: chunked
#   type=T          Content-Type: T instead of the body's own
#   delay=SECS      sleep before sending anything (also before a break=)
#   body-delay=SECS send the headers and half the body, sleep, send the rest
#   echo=1          body is the request as received: request line, header
#                   lines, a blank line (each line ending in "\n"), then the
#                   request body
#   break=reset     read the request, then reset the connection (RST)
#   break=garbage   reply "this is not http\r\n\r\n" and close
#   raw=BASE64      reply these bytes (base64, RFC 4648) as they are, then close: a response no
#                   well-behaved server would send
#   pad=N           with raw=: "{PAD}" in those bytes becomes N times "a" (heads too large for a URL)
#   break=short     announce the full Content-Length, send half the body, close
#   break=close     close the connection without sending anything
#   break=reused    like break=close, but only on a connection that served a request before
#                   (a keep-alive connection the server gave up on, as a proxy sees it)
# Validators and conditional requests (GET and HEAD answered 200 only):
#   etag=VALUE      send "ETag: VALUE" (VALUE with its quotes: etag=%22v1%22).
#                   A request whose If-None-Match matches it (weak comparison,
#                   or "*") gets 304 Not Modified.
#   lm=SECONDS      send "Last-Modified:" the origin's start time minus SECONDS
#                   (the same for every request).  A request with
#                   If-Modified-Since at or after it, and no If-None-Match,
#                   gets 304 Not Modified.
#                   A 304 carries Date, ETag, Last-Modified, Cache-Control (as
#                   for cc=), Vary and the h= headers, and no body.
#   h304=Name:Value (repeatable) in a 304 only: replaces every header Name of
#                   the 304 (Cache-Control and ETag too) with these values
# Bodies that change (these lines are appended to the default text body only,
# not to size= or echo= bodies):
#   counter=1       a line "served=N": the origin has seen this URI N times,
#                   this request included (any method, as in the log)
#   vary=NAMES      send "Vary: NAMES" (sent as given, e.g. "Accept, *"); for
#                   each header name in it but "*", a line "varied=VALUE" with
#                   the request's value of that header ("" if absent)
# Behaviour that changes after some requests (N counts requests for this URI,
# as for counter=; N defaults to 0):
#   fail-after=N&fail=STATUS  from the (N+1)-th request on, answer STATUS with
#                   "Cache-Control: no-store" and a short text body instead
#   fail-after=N&fail=reset   ... or reset the connection
#   slow-after=N&slow=SECS    from the (N+1)-th request on, sleep SECS first
# Without a query, "/" serves a small HTML page showing when it was generated.

use strict;
use warnings;
use Errno qw(EINTR);
use Fcntl qw(O_WRONLY O_APPEND O_CREAT);
use File::Temp qw(tempfile);
use Getopt::Long qw(GetOptions);
use IO::Select;
use IO::Socket::IP;
use MIME::Base64 qw(decode_base64);
use POSIX qw(WNOHANG);
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(sleep);
use Time::Local qw(timegm);

# Close a persistent connection that stays idle this long (seconds).
use constant IDLE_TIMEOUT => 120;
use constant MAX_HEAD_SIZE => 64 * 1024;
# Request headers recorded in the log, as " KEY=VALUE" after "METHOD URI".
use constant LOGGED_HEADERS => ([inm => 'if-none-match'], [ims => 'if-modified-since'], [range => 'range']);

my %REASON = (
    100 => 'Continue',         200 => 'OK',
    201 => 'Created',          204 => 'No Content',
    206 => 'Partial Content',  301 => 'Moved Permanently',
    302 => 'Found',            304 => 'Not Modified',
    400 => 'Bad Request',      403 => 'Forbidden',
    404 => 'Not Found',        405 => 'Method Not Allowed',
    410 => 'Gone',             429 => 'Too Many Requests',
    500 => 'Internal Server Error', 502 => 'Bad Gateway',
    503 => 'Service Unavailable',   504 => 'Gateway Timeout',
);

my ($listen, $log_file);
GetOptions('listen=s' => \$listen, 'log=s' => \$log_file)
    && defined $listen && !@ARGV
    or die "usage: $0 --listen ADDR:PORT [--log FILE]\n";
my ($listen_host, $listen_port) = $listen =~ /\A\[?([^\[\]]*?)\]?:(\d+)\z/
    or die "$0: bad --listen address '$listen' (expected ADDR:PORT)\n";

# Last-Modified of lm= is relative to this, so it is the same for every request.
my $START_TIME = time;

# Without --log, requests are still logged (to a file removed at exit): the
# per-URI counts of counter=, fail-after= and slow-after= are read from it.
(undef, $log_file) = tempfile('demo-origin-XXXXXX', TMPDIR => 1, UNLINK => 1)
    unless defined $log_file;
sysopen(my $log_fh, $log_file, O_WRONLY | O_APPEND | O_CREAT)
    or die "$0: cannot open log file $log_file: $!\n";

my $server = IO::Socket::IP->new(
    LocalHost => $listen_host,
    LocalPort => $listen_port,
    Listen    => 128,
    ReuseAddr => 1,
) or die "$0: cannot listen on $listen: $@\n";
print STDERR "demo-origin: listening on $listen\n";

serve_forever($server);

# Accept loop of the parent: one child per connection.
sub serve_forever {
    my ($listener) = @_;
    my %children;
    $SIG{CHLD} = sub {
        while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
            delete $children{$pid};
        }
    };
    my $shutdown = sub {
        kill 'TERM', keys %children;
        exit 0;
    };
    $SIG{TERM} = $SIG{INT} = $shutdown;

    while (1) {
        my $client = $listener->accept;
        if (!$client) {
            next if $!{EINTR};
            die "demo-origin: accept: $!\n";
        }
        my $pid = fork;
        if (!defined $pid) {
            warn "demo-origin: fork: $!\n";
        } elsif ($pid == 0) {
            $SIG{$_} = 'DEFAULT' for qw(CHLD TERM INT);
            $SIG{PIPE} = 'IGNORE';
            close $listener;
            serve_connection($client);
            exit 0;
        } else {
            $children{$pid} = 1;
        }
        close $client;
    }
}

# Serve requests on one connection until either side closes it.
sub serve_connection {
    my ($sock) = @_;
    my $conn = { sock => $sock, buf => '', served => 0 };
    while (my $req = read_request($conn)) {
        log_request($req);
        my $keep_alive = respond($conn, $req);
        last unless $keep_alive;
        ++$conn->{served};
    }
    close $sock;
}

sub log_request {
    my ($req) = @_;
    my $line = "$req->{method} $req->{uri}";
    for my $logged (LOGGED_HEADERS) {
        my ($key, $header) = @$logged;
        my $value = $req->{headers}{$header} // next;
        $line .= " $key=" . ($value =~ s/([%\x00-\x20\x7f-\xff])/sprintf '%%%02X', ord $1/ger);
    }
    syswrite($log_fh, "$line\n");
}

# How many requests for $uri the log holds (this one included, as it is logged
# before the response is chosen).
sub times_seen {
    my ($uri) = @_;
    open my $fh, '<', $log_file or die "demo-origin: cannot read $log_file: $!\n";
    my $n = 0;
    while (my $line = <$fh>) {
        my (undef, $logged_uri) = split / /, $line, 3;
        chomp $logged_uri;
        $n++ if $logged_uri eq $uri;
    }
    return $n;
}

# --- reading requests -------------------------------------------------------

# Append more bytes from the socket to the connection buffer; false on EOF,
# error or idle timeout.
sub fill {
    my ($conn) = @_;
    return 0 unless IO::Select->new($conn->{sock})->can_read(IDLE_TIMEOUT);
    my $n = sysread($conn->{sock}, $conn->{buf}, 65536, length $conn->{buf});
    return $n ? 1 : 0;
}

# One CRLF- (or LF-) terminated line without its terminator, or undef.
sub read_line {
    my ($conn) = @_;
    while ($conn->{buf} !~ /\n/) {
        return undef if length $conn->{buf} > MAX_HEAD_SIZE || !fill($conn);
    }
    $conn->{buf} =~ s/\A(.*?)\r?\n//s;
    return $1;
}

sub read_bytes {
    my ($conn, $n) = @_;
    while (length $conn->{buf} < $n) {
        return undef unless fill($conn);
    }
    return substr($conn->{buf}, 0, $n, '');
}

# Parse one request (head and body).  Returns a hashref, or undef when the
# connection is closed or the request is malformed (a 400 has then been sent).
sub read_request {
    my ($conn) = @_;
    my $line = read_line($conn);
    $line = read_line($conn) while defined $line && $line eq '';  # stray CRLFs
    return undef unless defined $line;

    my ($method, $uri, $version) = $line =~ m{\A(\S+) (\S+) HTTP/(1\.[01])\z}
        or return bad_request($conn);
    my $req = {
        method => $method, uri => $uri, version => $version,
        request_line => $line, header_lines => [], headers => {}, body => '',
    };
    while (1) {
        my $h = read_line($conn);
        return undef unless defined $h;
        last if $h eq '';
        my ($name, $value) = $h =~ /\A([^:\s]+):[ \t]*(.*?)[ \t]*\z/
            or return bad_request($conn);
        push @{ $req->{header_lines} }, $h;
        my $key = lc $name;
        $req->{headers}{$key} = exists $req->{headers}{$key}
            ? "$req->{headers}{$key}, $value" : $value;
    }
    if (lc($req->{headers}{expect} // '') eq '100-continue' && $version eq '1.1') {
        send_all($conn->{sock}, "HTTP/1.1 100 Continue\r\n\r\n") or return undef;
    }
    my $body = read_request_body($conn, $req->{headers});
    return bad_request($conn) unless defined $body;
    $req->{body} = $body;
    $req->{params} = parse_query($uri);
    return $req;
}

sub read_request_body {
    my ($conn, $headers) = @_;
    if (lc($headers->{'transfer-encoding'} // '') eq 'chunked') {
        my $body = '';
        while (1) {
            my $size_line = read_line($conn) // return undef;
            my ($hex) = $size_line =~ /\A([0-9a-fA-F]+)/ or return undef;
            my $size = hex $hex;
            if ($size == 0) {  # skip trailers up to the final empty line
                while (1) {
                    my $t = read_line($conn) // return undef;
                    return $body if $t eq '';
                }
            }
            $body .= read_bytes($conn, $size) // return undef;
            my $chunk_end = read_line($conn);
            return undef unless defined $chunk_end && $chunk_end eq '';
        }
    }
    my $length = $headers->{'content-length'} // 0;
    return undef unless $length =~ /\A\d+\z/;
    return read_bytes($conn, $length);
}

sub bad_request {
    my ($conn) = @_;
    my $body = "bad request\n";
    send_all($conn->{sock}, "HTTP/1.1 400 Bad Request\r\n"
        . "Content-Type: text/plain\r\nContent-Length: " . length($body)
        . "\r\nConnection: close\r\n\r\n$body");
    return undef;
}

# Query parameters, URL-decoded; every value is an arrayref (params repeat).
sub parse_query {
    my ($uri) = @_;
    my %params;
    my (undef, $query) = split /\?/, $uri, 2;
    for my $pair (split /&/, $query // '') {
        next if $pair eq '';
        my ($k, $v) = split /=/, $pair, 2;
        push @{ $params{ url_decode($k) } }, url_decode($v // '');
    }
    return \%params;
}

sub url_decode {
    my ($s) = @_;
    $s =~ tr/+/ /;
    $s =~ s/%([0-9a-fA-F]{2})/chr hex $1/ge;
    return $s;
}

# --- responding ---------------------------------------------------------------

# Send the scripted response; returns true if the connection stays open.
sub respond {
    my ($conn, $req) = @_;
    my $sock = $conn->{sock};
    my $p = $req->{params};
    my $param = sub { my $v = $p->{ $_[0] }; $v ? $v->[-1] : undef };
    # True once the origin has seen more requests for this URI than the
    # parameter $_[0] (default 0) says.
    my $past = sub { times_seen_memo($req) > ($param->($_[0]) // 0) };
    my $keep_alive = $req->{version} eq '1.1'
        && lc($req->{headers}{connection} // '') !~ /\bclose\b/;

    sleep $param->('delay') if $param->('delay');
    sleep $param->('slow') if $param->('slow') && $past->('slow-after');

    my $fail = $param->('fail');
    $fail = undef unless defined $fail && $past->('fail-after');
    my $break = $param->('break') // '';
    $break = 'reset' if ($fail // '') eq 'reset';
    if ($break eq 'reset') {
        setsockopt($sock, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
        return 0;
    }
    return 0 if $break eq 'close' || ($break eq 'reused' && $conn->{served});
    if ($break eq 'garbage') {
        send_all($sock, "this is not http\r\n\r\n");
        return 0;
    }
    if (defined $param->('raw')) {
        my $pad = 'a' x ($param->('pad') // 0);
        send_all($sock, decode_base64($param->('raw')) =~ s/\{PAD\}/$pad/gr);
        return 0;
    }
    if (defined $fail) {
        my $body = "demo-origin: failing with status $fail\n";
        return send_all($sock, response_head($fail,
            ['Date', http_date(time)], ['Content-Type', 'text/plain'],
            ['Cache-Control', 'no-store'], ['Content-Length', length $body],
            ['Connection', $keep_alive ? 'keep-alive' : 'close'])
            . ($req->{method} eq 'HEAD' ? '' : $body)) && $keep_alive;
    }

    # Headers a 304 repeats: Date, validators, Cache-Control, Vary, h=.
    my $etag = $param->('etag');
    my $last_modified = defined $param->('lm') ? $START_TIME - $param->('lm') : undef;
    my $cc = $param->('cc') // 'max-age=60';
    my @headers = (['Date', http_date(time)]);
    push @headers, ['ETag', $etag] if defined $etag;
    push @headers, ['Last-Modified', http_date($last_modified)] if defined $last_modified;
    push @headers, ['Cache-Control', $cc] if $cc ne '';
    push @headers, ['Vary', $param->('vary')] if defined $param->('vary');
    push @headers, header_params($p, 'h');
    my $connection = ['Connection', $keep_alive ? 'keep-alive' : 'close'];

    my $status = $param->('status') // 200;
    if ($status == 200 && $req->{method} =~ /\A(?:GET|HEAD)\z/
        && not_modified($req->{headers}, $etag, $last_modified)) {
        my @replacements = header_params($p, 'h304');
        my %replaced = map { (lc $_->[0] => 1) } @replacements;
        return send_all($sock, response_head(304,
            (grep { !$replaced{ lc $_->[0] } } @headers), @replacements, $connection))
            && $keep_alive;
    }

    my $bodiless = $status =~ /\A(?:1\d\d|204|304)\z/;
    my ($body, $type) = $bodiless ? ('', 'text/plain') : response_body($req, $param);
    my $chunked = ($param->('chunked') // '') eq '1' && $req->{version} eq '1.1';
    splice @headers, 1, 0, ['Content-Type', $param->('type') // $type];
    push @headers, $bodiless ? ()
                 : $chunked  ? ['Transfer-Encoding', 'chunked']
                 :             ['Content-Length', length $body];
    my $head = response_head($status, @headers, $connection);
    my $wire_body = $req->{method} eq 'HEAD' || $bodiless ? ''
                  : $chunked ? chunk_encode($body) : $body;

    if ($break eq 'short') {
        send_all($sock, $head . substr($wire_body, 0, int(length($wire_body) / 2)));
        return 0;
    }
    if (my $body_delay = $param->('body-delay')) {
        my $half = int(length($wire_body) / 2);
        send_all($sock, $head . substr($wire_body, 0, $half)) or return 0;
        sleep $body_delay;
        return send_all($sock, substr($wire_body, $half)) && $keep_alive;
    }
    return send_all($sock, $head . $wire_body) && $keep_alive;
}

# The status line and header lines, up to and including the empty line.
sub response_head {
    my ($status, @headers) = @_;
    return sprintf("HTTP/1.1 %d %s\r\n", $status, $REASON{$status} // 'Status')
        . join('', map { "$_->[0]: $_->[1]\r\n" } @headers) . "\r\n";
}

# The [name, value] pairs of the repeatable "Name:Value" parameter $key.
sub header_params {
    my ($p, $key) = @_;
    return map { /\A([^:]+):\s*(.*)\z/s ? [$1, $2] : () } @{ $p->{$key} // [] };
}

# times_seen for the request's URI, read from the log once per request.
sub times_seen_memo {
    my ($req) = @_;
    return $req->{times_seen} //= times_seen($req->{uri});
}

# RFC 9110 13.1.2 and 13.1.3 for a GET/HEAD of a representation with these
# validators (either may be undef): does the request make it a 304?
# If-None-Match (weak comparison) takes precedence over If-Modified-Since.
sub not_modified {
    my ($headers, $etag, $last_modified) = @_;
    if (defined(my $inm = $headers->{'if-none-match'})) {
        return 0 unless defined $etag;
        return 1 if $inm =~ /\A\s*\*\s*\z/;
        my $opaque = sub { $_[0] =~ s{\AW/}{}r };
        return scalar grep { $opaque->($_) eq $opaque->($etag) } $inm =~ m{((?:W/)?"[^"]*")}g;
    }
    my $ims = $headers->{'if-modified-since'};
    return 0 unless defined $ims && defined $last_modified;
    my $since = parse_http_date($ims);
    return defined $since && $since >= $last_modified;
}

# The response body and its Content-Type.
sub response_body {
    my ($req, $param) = @_;
    if (($param->('echo') // '') eq '1') {
        my $text = join '', map { "$_\n" }
            $req->{request_line}, @{ $req->{header_lines} }, '';
        return ($text . $req->{body}, 'text/plain');
    }
    if (defined(my $size = $param->('size'))) {
        return (pattern_body($size), 'application/octet-stream');
    }
    return (demo_page(), 'text/html; charset=utf-8') if $req->{uri} eq '/';
    my $text = "hello from demo origin: $req->{uri}\n";
    $text .= 'served=' . times_seen_memo($req) . "\n" if ($param->('counter') // '') eq '1';
    for my $name (split /\s*,\s*/, $param->('vary') // '') {
        next if $name eq '*' || $name eq '';
        $text .= 'varied=' . ($req->{headers}{ lc $name } // '') . "\n";
    }
    return ($text, 'text/plain');
}

# N bytes of "%015x\n" lines; memoized per size within this process.
my %pattern_cache;
sub pattern_body {
    my ($size) = @_;
    return $pattern_cache{$size} //= do {
        my $body = '';
        $body .= sprintf("%015x\n", $_) for 0 .. int(($size + 15) / 16) - 1;
        substr($body, 0, $size);
    };
}

sub demo_page {
    my $now = http_date(time);
    return <<"HTML";
<!DOCTYPE html>
<html>
<head><title>anyedge demo origin</title></head>
<body>
<h1>anyedge demo origin</h1>
<p>This page was generated by the origin at <strong>$now</strong>.
It may be cached for 60 seconds: reload it, and if the time stays the same the
page was served from the edge cache (see the X-Cache and Age headers).</p>
</body>
</html>
HTML
}

sub chunk_encode {
    my ($body) = @_;
    my $len = length $body;
    my $chunk_size = int($len / 4) + 1;
    $chunk_size = 65536 if $chunk_size > 65536;
    my $out = '';
    for (my $off = 0; $off < $len; $off += $chunk_size) {
        my $chunk = substr($body, $off, $chunk_size);
        $out .= sprintf("%x\r\n", length $chunk) . $chunk . "\r\n";
    }
    return $out . "0\r\n\r\n";
}

sub http_date {
    my ($t) = @_;
    my @g = gmtime $t;
    return sprintf('%s, %02d %s %04d %02d:%02d:%02d GMT',
        (qw(Sun Mon Tue Wed Thu Fri Sat))[ $g[6] ], $g[3],
        (qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec))[ $g[4] ],
        $g[5] + 1900, $g[2], $g[1], $g[0]);
}

# An IMF-fixdate (the only form this origin parses) as a Unix time, or undef.
sub parse_http_date {
    my ($s) = @_;
    my %month;
    @month{qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)} = 0 .. 11;
    my ($mday, $mon, $year, $hour, $min, $sec) =
        $s =~ /\A\s*[A-Z][a-z]{2}, (\d\d) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT\s*\z/
        or return undef;
    return undef unless defined $month{$mon};
    return eval { timegm($sec, $min, $hour, $mday, $month{$mon}, $year) };
}

# Write everything (retrying partial writes); false if the peer went away.
sub send_all {
    my ($sock, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($sock, $data, length($data) - $off, $off);
        if (!defined $n) {
            next if $! == EINTR;
            return 0;
        }
        $off += $n;
    }
    return 1;
}
