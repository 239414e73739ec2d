# t/46-big-store-startup.t -- the map is the cache: a store of 1,000,000 objects starts as fast as an
# empty one and costs no more memory (nothing scans or indexes the store at start-up), and serving
# thousands of distinct objects from it grows only the mapped pages (RssFile), not the process's
# own memory (RssAnon).
#
# The store is filled by t/tools/store_populate (built next to the daemon, in build/tools or
# build-asan/tools), which writes the objects with the project's own store code, as the cache writer
# would have stored the responses to GET http://bigstore.test/obj/<i>. The tool of the same build as
# the daemon is used, so under `make test SANITIZE=1` the million writes run under ASan too (12 to
# 17 s there, 4 s in the normal build, on the 2-core development VM).
#
# A scan of a store that is in the page cache takes well under a second, so the generous bound on
# the start-up time (robust on a busy 2-core VM) would not catch one; the RssFile check does: a scan
# maps every page of the store into the process.
#
# Under ASan every request costs some anonymous memory of its own (freed blocks wait in ASan's
# quarantine), so the RssAnon check compares serving new objects with serving as many requests for
# objects already served: the new objects must cost nothing more.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use File::Basename qw(dirname);
use List::Util qw(max min);
use Test::More;
use Time::HiRes qw(sleep time);

my $tool = dirname(anyedge_bin()) . '/tools/store_populate';
plan skip_all => "$tool is not built" unless -x $tool;

my $COUNT = 1_000_000;
my $HOST = 'bigstore.test';
my $SIZE = '2G';                 # the store takes about 440 MiB
my $STARTS = 3;                  # start-ups timed per store (the fastest counts: the VM is noisy)
my $MiB = 1024 * 1024;

# The body store_populate gives object $i.
sub object_body { sprintf("obj %09u\n", $_[0]) x 10 }
# Distinct objects spread over the whole store: ($n * 7919 + 13) mod COUNT, 7919 being prime.
sub object_index { ($_[0] * 7919 + 13) % $COUNT }

# RssAnon and RssFile of a process, in bytes.
sub rss {
    my ($pid) = @_;
    my %kb = slurp("/proc/$pid/status") =~ /^(RssAnon|RssFile):\s+(\d+) kB$/mg;
    return { anon => $kb{RssAnon} * 1024, file => $kb{RssFile} * 1024 };
}

sub mib { sprintf '%.1f MiB', $_[0] / $MiB }

my $dir = temp_dir();
my $origin = start_origin();
my @sites = ({ host => $HOST, origin => $origin->{url} });

my $t0 = time;
my $out = `'$tool' '$dir/big' $SIZE $HOST $COUNT 2>&1`;
if (!is($?, 0, "store_populate stored $COUNT objects")) {
    diag($out);
    done_testing;
    exit;
}
note(sprintf '%s(%.1fs in all)', $out, time - $t0);
my $store_bytes = -s "$dir/big/data.mdb";

my %store = (
    empty => { cache_path => "$dir/empty" },
    big   => { cache_path => "$dir/big" },
);

# Starts (or restarts) a store's daemon; the seconds until it listens and answers a request that
# looks the store up without going to the origin (only-if-cached: a HIT from the big store, 504
# from the empty one).
sub timed_start {
    my ($s) = @_;
    my $t = time;
    if ($s->{ae}) {
        restart_anyedge($s->{ae});
    } else {
        $s->{ae} = start_anyedge(cache_path => $s->{cache_path}, cache_size => $SIZE, sites => \@sites);
    }
    my $r = http(port => $s->{ae}{port}, host => $HOST, path => '/obj/0', headers => ['Cache-Control: only-if-cached']);
    my $elapsed = time - $t;
    $s->{answer} = $r->{status};
    return $elapsed;
}

subtest 'start-up: as fast and as small with 1,000,000 objects as with none' => sub {
    for my $round (1 .. $STARTS) {
        for my $name (qw(empty big)) {
            my $s = $store{$name};
            stop_anyedge($s->{ae}) if $s->{ae} && $s->{ae}{pid};
            push @{ $s->{times} }, timed_start($s);
            # right after start, and a moment later (a scan could run in the background)
            $s->{rss_start} = rss($s->{ae}{pid});
            sleep 1 if $round == $STARTS;
            $s->{rss_later} = rss($s->{ae}{pid});
        }
    }
    is($store{empty}{answer}, 504, 'the empty store answers (504 for only-if-cached)');
    is($store{big}{answer}, 200, 'the big store answers (200)');

    my ($empty, $big) = map { min(@{ $store{$_}{times} }) } qw(empty big);
    note(sprintf 'start-up times (s): empty %s; %d objects %s', join(' ', map { sprintf '%.3f', $_ } @{ $store{empty}{times} }),
         $COUNT, join(' ', map { sprintf '%.3f', $_ } @{ $store{big}{times} }));
    my $bound = max(2 * $empty, $empty + 1);
    cmp_ok($big, '<=', $bound, sprintf('start-up with %d objects (%.3fs) within max(2x, +1s) of the empty store (%.3fs)', $COUNT, $big, $empty));

    for my $when (qw(rss_start rss_later)) {
        my ($e, $b) = map { $store{$_}{$when} } qw(empty big);
        note(sprintf '%s: empty store RssAnon %s RssFile %s; big store RssAnon %s RssFile %s', $when,
             mib($e->{anon}), mib($e->{file}), mib($b->{anon}), mib($b->{file}));
        # a scan of the store would map its pages: hundreds of MiB of RssFile
        cmp_ok($b->{file} - $e->{file}, '<', 16 * $MiB,
               sprintf('%s: RssFile is that of the empty store (the store file is %s)', $when, mib($store_bytes)));
        # an index of the objects in memory would take at least their 16-byte hashes: 16 MB
        cmp_ok($b->{anon} - $e->{anon}, '<', 4 * $MiB, "$when: RssAnon is that of the empty store");
    }
    stop_anyedge($store{empty}{ae});
};

my $ae = $store{big}{ae};
my %site = (port => $ae->{port}, host => $HOST);

# Requests the objects; tests that each is a HIT with its own body.
sub all_hits {
    my ($indexes, $name) = @_;
    my @responses = http_batch(%site, paths => [ map { "/obj/$_" } @$indexes ]);
    my @bad = grep {
        my $r = $responses[$_];
        !($r->{status} == 200 && ($r->{headers}{'x-cache'} // '') eq 'HIT' && $r->{body} eq object_body($indexes->[$_]));
    } 0 .. $#$indexes;
    is(scalar @bad, 0, "$name: " . scalar(@$indexes) . ' responses are HITs with the stored bodies')
        or diag(explain([ map { +{ path => "/obj/$indexes->[$_]", status => $responses[$_]{status},
                                   'x-cache' => $responses[$_]{headers}{'x-cache'}, body => $responses[$_]{body} } }
                          @bad[0 .. min(2, $#bad)] ]));
}

subtest 'serving distinct objects grows the mapped pages, not the process' => sub {
    my @first = map { object_index($_) } 1 .. 500;
    my @next = map { object_index($_) } 501 .. 5000;
    my $r0 = rss($ae->{pid});
    all_hits(\@first, '500 distinct objects');
    my $r1 = rss($ae->{pid});
    all_hits([ map { $first[ $_ % @first ] } 0 .. $#next ], 'as many requests again for those 500');
    my $r2 = rss($ae->{pid});
    all_hits(\@next, '4,500 more distinct objects');
    my $r3 = rss($ae->{pid});
    note(sprintf 'RssAnon / RssFile: at start %s / %s; after 500 objects %s / %s; after 4,500 requests for them %s / %s; '
                 . 'after 4,500 more objects %s / %s', map { mib($_->{anon}), mib($_->{file}) } $r0, $r1, $r2, $r3);

    my ($again, $new) = ($r2->{anon} - $r1->{anon}, $r3->{anon} - $r2->{anon});
    cmp_ok($new - $again, '<', 2 * $MiB,
           sprintf('RssAnon: 4,500 new objects cost no more than 4,500 requests for known ones (%s against %s)', mib($new), mib($again)));
    cmp_ok($new, '<', 8 * $MiB, 'RssAnon: grew by less than 8 MiB over the 4,500 new objects');
    cmp_ok($r3->{file}, '>', $r1->{file}, 'RssFile grew: the hits were read from the map');
    is(origin_count($origin, qr{^/obj/}), 0, 'nothing went to the origin');
};

subtest 'anyedge cache stats counts the objects' => sub {
    my $stats = run_anyedge('cache', 'stats', '-c', $ae->{conf});
    is($stats->{exit}, 0, 'stats: exit 0');
    like($stats->{stdout}, qr/^objects: $COUNT \(\d+ body bytes\), vary indexes: 0, damaged records: 0$/m, "stats: $COUNT objects");
    like($stats->{stdout}, qr/^site \Q$HOST\E: $COUNT objects, ${\($COUNT * 140)} bytes$/m, 'stats: all of them on the site');
};

is(stop_anyedge($ae), 0, 'the daemon stops cleanly');

done_testing;
