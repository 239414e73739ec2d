#!/usr/bin/perl
# A small HTTPS origin for the tests (t/83-https-origin.t): IO::Socket::SSL, one process per
# connection, keep-alive. Every response is 200 with Cache-Control: max-age=60 and the body
# "PATH sni=NAME conn=N req=M" (the TLS server name the client sent, the connection's and the
# request's number on it). Each request is appended to the --log file as "PATH sni=NAME".
#   https-origin.pl --listen 127.0.0.1:PORT --cert FILE --key FILE --log FILE
use strict;
use warnings;
use Getopt::Long;
use IO::Socket::SSL;

GetOptions(\my %opt, 'listen=s', 'cert=s', 'key=s', 'log=s') or die "bad options\n";
$SIG{CHLD} = 'IGNORE';
my $server = IO::Socket::SSL->new(
    LocalAddr => $opt{listen}, Listen => 64, ReuseAddr => 1,
    SSL_server => 1, SSL_cert_file => $opt{cert}, SSL_key_file => $opt{key},
    SSL_startHandshake => 0,
) or die "https-origin: cannot listen on $opt{listen}: $!, $SSL_ERROR\n";
my $connections = 0;
while (1) {
    my $client = $server->accept or next;
    ++$connections;
    my $pid = fork;
    if (!defined $pid || $pid != 0) {
        close $client;
        next;
    }
    close $server;
    $client->accept_SSL or exit 0;  # e.g. the client refused our certificate
    my $sni = $client->get_servername // '-';
    my $requests = 0;
    while (defined(my $line = <$client>)) {
        my ($method, $path) = $line =~ /\A(\S+) (\S+) HTTP/ or last;
        my $close = 0;
        while (defined(my $h = <$client>)) {
            last if $h =~ /\A\r?\n\z/;
            $close = 1 if $h =~ /\AConnection:\s*close/i;
        }
        ++$requests;
        if (open my $log, '>>', $opt{log}) {
            print {$log} "$path sni=$sni\n";
            close $log;
        }
        my $body = "$path sni=$sni conn=$connections req=$requests\n";
        print {$client} "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\nContent-Length: " . length($body)
                      . "\r\n\r\n" . ($method eq 'HEAD' ? '' : $body);
        last if $close;
    }
    exit 0;
}
