# t/10-cli.t -- the command line: --version, --help, a bad option, a missing
# config file, and `-t` on a good config.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

subtest '--version' => sub {
    my $r = run_anyedge('--version');
    is($r->{exit}, 0, 'exit 0');
    like($r->{stdout}, qr/^anyedge \d+\.\d+\.\d+$/m, 'prints "anyedge X.Y.Z"');
};

subtest '--help' => sub {
    my $r = run_anyedge('--help');
    is($r->{exit}, 0, 'exit 0');
    like($r->{stdout}, qr/usage/i, 'prints usage');
    like($r->{stdout}, qr/-c\b/, 'mentions -c');
    like($r->{stdout}, qr/-t\b/, 'mentions -t');
};

subtest 'unknown option' => sub {
    my $r = run_anyedge('--no-such-option');
    isnt($r->{exit}, 0, 'non-zero exit');
    like($r->{stderr}, qr/usage/i, 'usage on stderr');
};

my $dir = temp_dir();

subtest 'missing config file' => sub {
    my $missing = "$dir/does-not-exist.conf";
    my $r = run_anyedge('-c', $missing);
    isnt($r->{exit}, 0, 'non-zero exit');
    like($r->{stderr}, qr/\Q$missing\E/, 'names the file');
};

subtest '-t on a good config' => sub {
    my $conf = write_config($dir, config_yaml(
        port       => empty_port(),
        threads    => 'auto',
        cache_path => "$dir/cache",
        cache_size => '1G',
        sites      => [
            {
                host    => 'example.test',
                aliases => ['www.example.test'],
                origin  => 'http://127.0.0.1:9',
                extra   => { 'origin-connect-timeout'    => '500ms',
                             'origin-first-byte-timeout' => '30s',
                             'origin-idle-timeout'       => '2m' },
            },
            {
                host   => 'static.example.test',
                origin => 'http://127.0.0.1:9/',
                extra  => { 'origin-connect-timeout' => 5 },
            },
        ],
    ));
    my ($exit, $stderr) = run_anyedge_check($conf);
    is($exit, 0, 'exit 0') or diag($stderr);
};

done_testing;
