# t/40-persistence.t -- the cache survives restarts of the daemon, both after a
# graceful stop (SIGTERM, exit status 0) and after SIGKILL, and an upgrade from the previous
# record format (the store rewritten by t/tools/store_downgrade).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use File::Basename qw(dirname);
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ]);
my %site = (port => $ae->{port}, host => 'example.test');

# Each case: how the daemon is stopped, and the exit result that stop returns.
my @STOPS = (
    [ SIGTERM => \&stop_anyedge,      0 ],
    [ SIGKILL => \&kill_anyedge_hard, 'signal 9' ],
);
my %cached;  # path => body, for every object stored so far
for my $case (@STOPS) {
    my ($signal, $stop, $exit) = @$case;
    subtest "restart after $signal" => sub {
        my $path = "/persist?before=$signal";
        my (undef, $hit) = miss_then_hit(%site, origin => $origin, path => $path);
        $cached{$path} = $hit->{body};
        my %count = map { $_ => origin_count($origin, $_) } keys %cached;

        is($stop->($ae), $exit, "stopped by $signal");
        restart_anyedge($ae);

        for my $p (sort keys %cached) {
            my $r = http(%site, path => $p);
            is($r->{headers}{'x-cache'}, 'HIT', "$p: HIT after the restart");
            is($r->{body}, $cached{$p}, "$p: same body");
            is(origin_count($origin, $p), $count{$p}, "$p: origin not contacted again");
        }
    };
}

subtest 'a store written in the previous record format keeps its hits' => sub {
    my $tool = dirname(anyedge_bin()) . '/tools/store_downgrade';
    plan skip_all => "no $tool (built with the daemon)" unless -x $tool;
    is(stop_anyedge($ae), 0, 'stopped');
    my $rewritten = `$tool $ae->{cache_path}`;
    chomp $rewritten;
    is($?, 0, 'store_downgrade ran');
    cmp_ok($rewritten, '>=', scalar(keys %cached), "every record rewritten in the previous format ($rewritten)");
    restart_anyedge($ae);
    for my $p (sort keys %cached) {
        my $before = origin_count($origin, $p);
        my $r = http(%site, path => $p);
        is($r->{headers}{'x-cache'}, 'HIT', "$p: HIT");
        is($r->{body}, $cached{$p}, "$p: same body");
        is(origin_count($origin, $p), $before, "$p: origin not contacted");
    }
};

done_testing;
