# t/11-config-errors.t -- `anyedge -t` rejects each kind of config error with
# exit status 1 and a "FILE:LINE: message" pointing at the offending line.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

my $dir = temp_dir();

# The valid config every case starts from (line numbers on the right).  A case
# replaces some lines; a replacement may span several lines, shifting the rest.
my @BASE = (
    'listen:',                              # 1
    '  - "127.0.0.1:8080"',                 # 2
    'threads: 2',                           # 3
    'cache:',                               # 4
    "  path: $dir/cache",                   # 5
    '  size: 64M',                          # 6
    'sites:',                               # 7
    '  - host: www.example.test',           # 8
    '    origin: http://127.0.0.1:9000',    # 9
    '  - host: static.example.test',        # 10
    '    origin: http://127.0.0.1:9001',    # 11
);

# name => [ { line number => replacement text }, expected line, message regex ]
my @CASES = (
    [ 'unknown top-level key' => { 3 => 'threadz: 2' },
      3, qr/unknown key.*threadz/ ],
    [ 'unknown site key' => { 9 => "$BASE[8]\n    bogus-key: 1" },
      10, qr/unknown key.*bogus-key/ ],
    [ 'threads is not a scalar' => { 3 => 'threads: [1]' },
      3, qr/expected/ ],
    [ 'listen is not a sequence' => { 1 => 'listen: 5', 2 => '' },
      1, qr/expected/ ],
    [ 'bad size suffix' => { 6 => '  size: 10X' },
      6, qr/size/ ],
    [ 'listen address without a port' => { 2 => '  - "nonsense"' },
      2, qr/address/ ],
    [ 'listen port out of range' => { 2 => '  - "127.0.0.1:99999"' },
      2, qr/address/ ],
    [ 'duplicate site host' => { 10 => '  - host: www.example.test' },
      10, qr/duplicate/ ],
    [ 'alias equal to another site' => { 11 => "$BASE[10]\n    aliases: [www.example.test]" },
      12, qr/duplicate/ ],
    [ 'site without origin' => { 11 => '    origin-connect-timeout: 5s' },
      10, qr/origin/ ],
    [ 'origin is not an http URL' => { 9 => '    origin: ftp://x' },
      9, qr/origin/ ],
    [ 'bad duration' => { 11 => "$BASE[10]\n    origin-connect-timeout: 5 parsecs" },
      12, qr/origin-connect-timeout|duration/ ],
    [ 'YAML syntax error' => { 5 => '  path: a: b' },
      5, qr/\S/ ],
);

my $serial = 0;
for my $case (@CASES) {
    my ($name, $replace, $line, $message_re) = @$case;
    subtest $name => sub {
        my @lines = @BASE;
        $lines[ $_ - 1 ] = $replace->{$_} for keys %$replace;
        my $conf = write_config($dir, join('', map { "$_\n" } @lines),
                                sprintf('case-%02d.conf', ++$serial));

        my ($exit, $stderr) = run_anyedge_check($conf);
        is($exit, 1, 'exit status 1');
        my ($got_line, $message) = $stderr =~ /^\Q$conf\E:(\d+): (.*)$/m;
        is($got_line, $line, "error reported at $conf:$line");
        like($message // '', $message_re, 'message');
        diag("stderr: $stderr") unless defined $got_line;
    };
}

done_testing;
