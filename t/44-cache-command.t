# t/44-cache-command.t -- `anyedge cache stats|list|get|verify -c FILE`: the operator's view of the
# store, while the daemon runs and after it stopped; verify finds a damaged record.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} },
                                  { host => 'other.test', origin => $origin->{url} } ]);
my %site = (port => $ae->{port}, host => 'example.test');
store_object(%site, path => $_) for '/small', '/large?size=600000';
store_object(%site, host => 'other.test', path => '/elsewhere');

sub command { run_anyedge('cache', @_, '-c', $ae->{conf}) }

# (the harness's settle requests store small objects of their own on example.test)
my $objects;
subtest 'while the daemon runs' => sub {
    my $stats = command('stats');
    is($stats->{exit}, 0, 'stats: exit 0');
    ($objects) = $stats->{stdout} =~ /^objects: (\d+) \(\d+ body bytes\), vary indexes: 0, damaged records: 0$/m;
    $objects //= 0;
    cmp_ok($objects, '>=', 3, 'stats: objects counted');
    my %per_site = $stats->{stdout} =~ /^site (\S+): (\d+) objects, \d+ bytes$/mg;
    cmp_ok($per_site{'example.test'} // 0, '>=', 2, 'stats: per site');
    cmp_ok($per_site{'other.test'} // 0, '>=', 1, 'stats: the other site');
    is(($per_site{'example.test'} // 0) + ($per_site{'other.test'} // 0), $objects, 'stats: the sites add up');

    my $list = command('list');
    is($list->{exit}, 0, 'list: exit 0');
    like($list->{stdout}, qr{^example\.test/large\?size=600000\t200\t600000\tage=\d+\tttl=\d+$}m, 'list: a line per object');
    is(scalar(() = $list->{stdout} =~ /\n/g), $objects, 'list: as many lines as objects');

    my $get = command('get', 'example.test/small');
    is($get->{exit}, 0, 'get: exit 0');
    like($get->{stdout}, qr/^status: 200 OK$/m, 'get: the status');
    like($get->{stdout}, qr/^cache-control: max-age=60$/m, 'get: the headers');
    isnt(command('get', 'example.test/nothing')->{exit}, 0, 'get: a key not stored fails');
    is(command('verify')->{exit}, 0, 'verify: a healthy store');
};

subtest 'after the daemon stopped, with a damaged record' => sub {
    is(stop_anyedge($ae), 0, 'stopped');
    is(damage_records($ae, { 'example.test/small' => sub { my $hex = shift; substr($hex, 8, 4) = '6300'; $hex } }), 1,
       'damaged one record');
    my $verify = command('verify');
    is($verify->{exit}, 1, 'verify: exit 1');
    my $intact = $objects - 1;
    like($verify->{stdout}, qr/^$intact objects, 0 vary indexes, 1 damaged records$/m, 'verify: counts the damaged record');
};

subtest 'bad use' => sub {
    is(command('bogus')->{exit}, 2, 'an unknown subcommand: exit 2');
    is(run_anyedge('nonsense', '-c', $ae->{conf})->{exit}, 2, 'an unknown command: exit 2');
};

done_testing;
