# t/95-metrics.t -- GET /metrics on the admin listener: real traffic through
# anyedge and the scripted origin, then the Prometheus text is parsed and the
# counters must say exactly what was sent (requests by site, status class and
# X-Cache; body bytes; the router's 400 and 421), the origin's failures by
# kind, the histograms (cumulative buckets, +Inf = _count), collapsed requests
# and fill fetches, store objects, connections, health and route state.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use JSON::PP qw(decode_json);
use List::Util qw(sum0);
use Test::More;

my $origin = start_origin();
my $blackhole = blackhole_port();
my $admin_port = empty_port();
my %timeouts = ('origin-connect-timeout' => '1s');
my $ae = start_anyedge(
    sites => [
        { host => 'example.test', origin => $origin->{url} },
        { host => 'count.test', origin => $origin->{url} },
        { host => 'timed.test', origin => $origin->{url} },
        { host => 'refused.test', origin => 'http://127.0.0.1:' . empty_port(), extra => \%timeouts },
        { host => 'blackhole.test', origin => "http://127.0.0.1:$blackhole->{port}", extra => \%timeouts },
    ],
    # the self check sends one request at start-up, then none for an hour: connections stay countable
    extra_yaml => qq(admin: { listen: "127.0.0.1:$admin_port" }\nhealth: { checks: { self: { interval: 1h } } }\n),
);

# Scrapes /metrics; returns { 'name{a="x",b="y"}' => value } (labels sorted) and
# checks the text format on the way: HELP and TYPE before a family's samples,
# sample lines well formed, no series twice.
sub scrape {
    my $r = http(port => $admin_port, path => '/metrics');
    my (%value, %type, %help, @problems);
    is($r->{status}, 200, '/metrics answers 200');
    like($r->{headers}{'content-type'} // '', qr{\Atext/plain; version=0\.0\.4}, 'Prometheus text content type');
    for my $line (split /\n/, $r->{body}) {
        if ($line =~ /\A# HELP (anyedge_\w+) \S/) {
            $help{$1} = 1;
        } elsif ($line =~ /\A# TYPE (anyedge_\w+) (counter|gauge|histogram)\z/) {
            push @problems, "TYPE of $1 without HELP first" unless $help{$1};
            $type{$1} = $2;
        } elsif ($line =~ /\A(anyedge_\w+)(?:\{((?:\w+="(?:[^"\\]|\\.)*",?)*)\})? (\S+)\z/) {
            my ($name, $labels, $value) = ($1, $2 // '', $3);
            (my $family = $name) =~ s/_(?:bucket|sum|count)\z// unless $type{$name};
            push @problems, "$name has no TYPE before it" unless $type{$family // $name};
            push @problems, "bad value in: $line" unless $value =~ /\A-?\d+(?:\.\d+)?(?:e[-+]?\d+)?\z/;
            my $key = $name . '{' . join(',', sort map { s/,\z//r } $labels =~ /(\w+="(?:[^"\\]|\\.)*",?)/g) . '}';
            push @problems, "series twice: $key" if exists $value{$key};
            $value{$key} = $value;
        } else {
            push @problems, "unexpected line: $line";
        }
    }
    ok(!@problems, 'well-formed exposition') or diag(join "\n", @problems);
    return \%value;
}

# A value from scrape(); 0 if the series is absent.
sub metric {
    my ($m, $key) = @_;
    $key .= '{}' unless $key =~ /\{/;
    return $m->{$key} // 0;
}

subtest 'requests by site, status class and cache result; the router\'s own answers' => sub {
    my @miss = map { http(port => $ae->{port}, host => 'count.test', path => "/p$_") } 1 .. 3;
    is_deeply([ map { $_->{headers}{'x-cache'} } @miss ], [qw(MISS MISS MISS)], 'three MISSes');
    ok(settle_cache(port => $ae->{port}, host => 'example.test'), 'cache settled');
    my @hit = map { http(port => $ae->{port}, host => 'count.test', path => "/p$_") } 1 .. 3;
    is_deeply([ map { $_->{headers}{'x-cache'} } @hit ], [qw(HIT HIT HIT)], 'three HITs');
    is(http(port => $ae->{port}, host => 'unknown.test', path => '/x')->{status}, 421, 'a 421');
    is(http(port => $ae->{port}, no_host => 1, path => '/x', http_version => '1.0')->{status}, 400, 'a 400');

    my $m = scrape();
    is(metric($m, 'anyedge_requests_total{cache="MISS",site="count.test",status="2xx"}'), 3, '3 MISS counted');
    is(metric($m, 'anyedge_requests_total{cache="HIT",site="count.test",status="2xx"}'), 3, '3 HIT counted');
    is(scalar(grep { /\Aanyedge_requests_total\{.*site="count\.test"/ } keys %$m), 2, 'no other series for the site');
    is(metric($m, 'anyedge_response_bytes_total{cache="MISS",site="count.test",status="2xx"}'), sum0(map { length $_->{body} } @miss),
       'MISS body bytes');
    is(metric($m, 'anyedge_response_bytes_total{cache="HIT",site="count.test",status="2xx"}'), sum0(map { length $_->{body} } @hit),
       'HIT body bytes');
    is(metric($m, 'anyedge_requests_total{cache="none",site="",status="4xx"}'), 2, 'the 421 and the 400, under no site; not the self check');
    cmp_ok(metric($m, 'anyedge_requests_total{cache="HIT",site="example.test",status="2xx"}'), '>=', 1, 'the settling HIT on the other site');
};

subtest 'origin failures by kind' => sub {
    is(http(port => $ae->{port}, host => 'refused.test', path => '/r')->{status}, 502, 'refused: 502');
    is(http(port => $ae->{port}, host => 'blackhole.test', path => '/b')->{status}, 504, 'connect timeout: 504');
    my $m = scrape();
    my %want = (
        'refused.test' => { connect_failed => 1 },
        'blackhole.test' => { connect_timeout => 1 },
        'count.test' => {},
    );
    for my $site (sort keys %want) {
        for my $kind (qw(connect_failed connect_timeout first_byte_timeout closed_before_response malformed idle_timeout truncated)) {
            my $key = qq(anyedge_origin_errors_total{kind="$kind",site="$site"});
            ok(exists $m->{$key}, "$key present");
            is(metric($m, $key), $want{$site}{$kind} // 0, "$site: $kind");
        }
    }
    is(metric($m, 'anyedge_origin_fetches_total{site="refused.test"}'), 1, 'refused.test: one exchange');
    is(metric($m, 'anyedge_origin_fetches_total{site="count.test"}'), 3, 'count.test: three exchanges (the MISSes)');
    is(metric($m, 'anyedge_requests_total{cache="MISS",site="refused.test",status="5xx"}'), 1, 'the 502 counted as 5xx MISS');
    is(metric($m, 'anyedge_origin_first_byte_seconds_count{site="refused.test"}'), 0, 'no first byte from a refused origin');
};

# The buckets of a histogram, in order of their bounds: ([le, count], ...).
sub buckets {
    my ($m, $name, $site) = @_;
    my @b = map { [ /le="([^"]+)"/, $m->{$_} ] } grep { /\A\Q$name\E_bucket\{.*site="\Q$site\E"/ } keys %$m;
    return sort { ($a->[0] eq '+Inf' ? 9e9 : $a->[0]) <=> ($b->[0] eq '+Inf' ? 9e9 : $b->[0]) } @b;
}

subtest 'origin latency histograms' => sub {
    my $r = http(port => $ae->{port}, host => 'timed.test', path => '/t?delay=0.3');
    is($r->{headers}{'x-cache'}, 'MISS', 'a MISS that took 0.3s at the origin');
    my $m = scrape();
    for my $name (qw(anyedge_origin_first_byte_seconds anyedge_origin_duration_seconds)) {
        my @b = buckets($m, $name, 'timed.test');
        is(scalar @b, 16, "$name: 15 bounds and +Inf");
        is($b[-1][0], '+Inf', "$name: +Inf last");
        ok(!grep({ $b[$_][1] < $b[$_ - 1][1] } 1 .. $#b), "$name: cumulative");
        is($b[-1][1], metric($m, qq(${name}_count{site="timed.test"})), "$name: +Inf = _count");
        is(metric($m, qq(${name}_count{site="timed.test"})), 1, "$name: one observation");
        my ($le_025) = grep { $_->[0] eq '0.25' } @b;
        my ($le_05) = grep { $_->[0] eq '0.5' } @b;
        is($le_025->[1], 0, "$name: not within 0.25s");
        is($le_05->[1], 1, "$name: within 0.5s");
        my $sum = metric($m, qq(${name}_sum{site="timed.test"}));
        ok($sum >= 0.3 && $sum < 0.5, "$name: _sum $sum in [0.3, 0.5)");
    }
    is(metric($m, 'anyedge_origin_duration_seconds_count{site="count.test"}'), 3, 'count.test: three completed exchanges');
};

subtest 'collapsed requests and fill fetches' => sub {
    my $before = scrape();
    my @r = http_parallel(port => $ae->{port}, host => 'example.test', path => origin_path('/collapse', delay => 1), count => 10);
    is(scalar(grep { $_->{status} == 200 } @r), 10, '10 answered');
    my $collapsed = grep { (cache_status($_) // {})->{collapsed} } @r;
    my $after = scrape();
    is(metric($after, 'anyedge_cache_fill_fetches_total') - metric($before, 'anyedge_cache_fill_fetches_total'), 1, 'one fill fetch');
    is(metric($after, 'anyedge_cache_collapsed_total') - metric($before, 'anyedge_cache_collapsed_total'), $collapsed,
       "collapsed: as many as said so in Cache-Status ($collapsed)");
    cmp_ok($collapsed, '>=', 9, 'at least 9 collapsed');
};

subtest 'store and writer' => sub {
    my $before = scrape();
    store_object(port => $ae->{port}, host => 'example.test', path => '/store-one');
    my $after = scrape();
    # store_object stores the object and the one settle_cache waits for
    is(metric($after, 'anyedge_store_objects') - metric($before, 'anyedge_store_objects'), 2, 'two more objects');
    is(metric($after, 'anyedge_store_objects_written_total') - metric($before, 'anyedge_store_objects_written_total'), 2, 'two more written');
    cmp_ok(metric($after, 'anyedge_writer_commits_total'), '>', metric($before, 'anyedge_writer_commits_total'), 'commits grew');
    my $stats = run_anyedge('cache', 'stats', '-c', $ae->{conf});
    my ($objects) = $stats->{stdout} =~ /objects:?\s+(\d+)/i;
    is($objects, metric($after, 'anyedge_store_objects'), 'the same count as anyedge cache stats') or diag($stats->{stdout});
    cmp_ok(metric($after, 'anyedge_store_used_bytes'), '>', 0, 'store bytes used');
    cmp_ok(metric($after, 'anyedge_store_used_bytes'), '<=', metric($after, 'anyedge_store_map_bytes'), 'within the map');
    is(metric($after, 'anyedge_store_map_bytes'), 64 * 1024 * 1024, 'map size is cache.size');
    is(metric($after, 'anyedge_writer_queue_depth'), 0, 'nothing queued');
    ok(exists $after->{'anyedge_store_evictions_total{}'}, 'evictions reported');
};

subtest 'connections' => sub {
    my $before = scrape();
    http_batch(port => $ae->{port}, host => 'count.test', paths => [ map { "/p$_" } 1 .. 3 ]);
    my ($after, $scrapes) = (undef, 0);
    ok(wait_until(5, sub { $after = scrape(); $scrapes++; metric($after, 'anyedge_connections_open') == 1 }),
       'one open: the scrape\'s own');
    # one for the batch (keep-alive), one for each scrape after the first
    is(metric($after, 'anyedge_connections_accepted_total') - metric($before, 'anyedge_connections_accepted_total'), 1 + $scrapes,
       'accepted: the batch\'s connection and the scrape\'s');
};

subtest 'health and route state' => sub {
    my $m = scrape();
    my $health = decode_json(http(port => $admin_port, path => '/health')->{body});
    my @states = grep { /\Aanyedge_health_state\{/ } keys %$m;
    is(scalar @states, 5, 'every state listed');
    is(sum0(map { $m->{$_} } @states), 1, 'one of them is 1');
    is(metric($m, qq(anyedge_health_state{state="$health->{state}"})), 1, "the one /health says: $health->{state}");
    is(sum0(map { $m->{$_} } grep { /\Aanyedge_route_state\{/ } keys %$m), 1, 'one route state');
    is(metric($m, 'anyedge_route_state{route="withdrawn"}'), 1, 'withdrawn (no announcer; the self check has not risen)');
    is(metric($m, 'anyedge_build_info{version="0.1.0"}'), 1, 'build info');
};

subtest 'no admin listener: no /metrics, nothing counted' => sub {
    my $plain = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ]);
    is(http(port => $plain->{port}, host => 'example.test', path => '/metrics')->{headers}{'x-cache'}, 'MISS',
       '/metrics on a site is the site\'s own path');
    is(stop_anyedge($plain), 0, 'stops cleanly');
};

is(stop_anyedge($ae), 0, 'anyedge stops cleanly');
done_testing;
