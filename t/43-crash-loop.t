# t/43-crash-loop.t -- crash safety: the daemon is killed with SIGKILL at a random moment while it
# stores a stream of objects (inline and chunked bodies), again and again; after every restart each
# object is served byte-identical to what the origin sent, whether it survived in the store (HIT)
# or not (MISS). LMDB commits are atomic, so a kill can lose the last objects, never corrupt one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep);

my $ROUNDS = 6;
my $PER_ROUND = 30;
my @SIZES = (1000, 70_000, 300_000, 700_000); # inline, one chunk, several chunks

my $origin = start_origin();
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ]);
my %site = (port => $ae->{port}, host => 'example.test');
my (@paths, %size_of, $hits);

srand(42);
for my $round (1 .. $ROUNDS) {
    my @load = map {
        my $size = $SIZES[ $_ % @SIZES ];
        my $path = "/crash/$round/$_?size=$size";
        $size_of{$path} = $size;
        $path;
    } 1 .. $PER_ROUND;
    push @paths, @load;

    # the load: one client fetching the new objects one after the other
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        exec 'curl', '-s', '-o', '/dev/null', '--max-time', '20', '-H', 'Host: example.test',
            map { "http://127.0.0.1:$ae->{port}$_" } @load;
        exit 127;
    }
    sleep 0.1 + rand 0.5;
    is(kill_anyedge_hard($ae), 'signal 9', "round $round: killed during the load");
    kill 'KILL', $pid;
    waitpid $pid, 0;

    restart_anyedge($ae);
    my @responses = http_batch(%site, paths => \@paths);
    my @wrong = grep {
        $responses[$_]{status} != 200 || $responses[$_]{body} ne expected_body($size_of{ $paths[$_] })
    } 0 .. $#paths;
    is(scalar @wrong, 0, "round $round: all " . scalar(@paths) . ' objects served intact after the restart')
        or diag("first wrong: $paths[$wrong[0]] status $responses[$wrong[0]]{status}");
    $hits += grep { ($_->{headers}{'x-cache'} // '') eq 'HIT' } @responses;
}
cmp_ok($hits, '>', 0, "objects survived the kills in the store ($hits HITs over all rounds)");

done_testing;
