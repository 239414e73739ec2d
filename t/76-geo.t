# t/76-geo.t -- GeoIP: MMDB fixtures written here with MaxMind::DB::Writer,
# requests from chosen loopback source addresses (127.0.0.N with curl
# --interface, and ::1): the geo headers to the origin (client copies
# stripped) and on responses, every kind of geo rule (decided before the
# cache, never stored), the cache key by country and by region, Vary on a geo
# header, the catchment counters on the admin listener, start-up errors, and
# hot reloads (atomic rename, a bad file, an in-place overwrite) while a
# client keeps requesting, with no failed request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time sleep);
use Test::More;

BEGIN {
    eval { require MaxMind::DB::Writer::Tree; 1 }
        or plan skip_all => 'MaxMind::DB::Writer is not installed (Debian: libmaxmind-db-writer-perl)';
}

my $dir = temp_dir();

# --- fixtures ------------------------------------------------------------------

my %types = (
    country => 'map', continent => 'map', city => 'map', names => 'map',
    iso_code => 'utf8_string', code => 'utf8_string', en => 'utf8_string',
    autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string',
);

# Writes an MMDB; $networks: { "CIDR" => record }.
sub write_mmdb {
    my ($path, $type, $networks) = @_;
    my $tree = MaxMind::DB::Writer::Tree->new(
        ip_version => 6, record_size => 24, database_type => $type, languages => ['en'],
        description => { en => "anyedge test $type" }, map_key_type_callback => sub { $types{ $_[0] } },
        remove_reserved_networks => 0,    # the loopback ranges are the point
    );
    $tree->insert_network($_, $networks->{$_}) for sort keys %$networks;
    open my $fh, '>:raw', $path or die "$path: $!";
    $tree->write_tree($fh);
    close $fh or die;
    return $path;
}

sub place {
    my ($country, $continent, $city) = @_;
    return { country => { iso_code => $country }, continent => { code => $continent },
             $city ? (city => { names => { en => $city } }) : () };
}

# 127.0.0.1 (the tests' default source) is in neither database: unknown.
my %city_v1 = (
    '127.0.0.5/32' => place('DE', 'EU', "M\x{fc}nchen"),
    '127.0.0.6/32' => place('FR', 'EU', 'Paris'),
    '127.0.0.7/32' => place('US', 'NA', 'New York'),
    '127.0.0.8/32' => place('JP', 'AS'),
    '127.0.0.9/32' => place('BR', 'SA'),
    '127.0.1.0/24' => place('CA', 'NA'),    # a range
    '::1/128'      => place('CH', 'EU', "Z\x{fc}rich"),
);
my %city_v2 = (%city_v1, '127.0.0.5/32' => place('AT', 'EU', 'Wien'));
my $city_v1 = write_mmdb("$dir/city-v1.mmdb", 'GeoIP2-City', \%city_v1);
my $city_v2 = write_mmdb("$dir/city-v2.mmdb", 'GeoIP2-City', \%city_v2);
my $asn = write_mmdb("$dir/asn.mmdb", 'GeoLite2-ASN', {
    '127.0.0.5/32' => { autonomous_system_number => 64500 },
    '127.0.0.6/32' => { autonomous_system_number => 64501 },
    '127.0.0.7/32' => { autonomous_system_number => 64502 },
    '127.0.0.8/32' => { autonomous_system_number => 64500 },
    '127.0.1.0/24' => { autonomous_system_number => 64503 },
    '::1/128'      => { autonomous_system_number => 64510 },
});
my $db = "$dir/GeoIP2-City.mmdb";
system('cp', $city_v1, $db) == 0 or die;

# --- requests from a chosen source address --------------------------------------

my $END = '--anyedge-geo-end--';

# GET each of @$paths from $args{ip} (source address) to the daemon: to
# 127.0.0.1:$args{port}, or to [::1]:$args{port6} when ip is ::1.  Returns
# { status, headers (lc => value), body } per path.
sub geo_batch { return geo_batch_finish(geo_batch_start(@_)) }

# Starts the curl process of geo_batch; geo_batch_finish waits for it.
sub geo_batch_start {
    my (%args) = @_;
    my $d = temp_dir();
    my $ip = $args{ip} // '127.0.0.1';
    my $base = $ip =~ /:/ ? "http://[::1]:$args{port6}" : "http://127.0.0.1:$args{port}";
    my @paths = @{ $args{paths} };
    open my $cfg, '>', "$d/urls" or die;
    print $cfg qq(url = "$base$paths[$_]"\noutput = "$d/body.$_"\n) for 0 .. $#paths;
    close $cfg;
    my @cmd = ('curl', '-sS', '-g', '--max-time', 10, '--http1.1', '--interface', $ip,
               '-H', "Host: $args{host}", (map { ('-H', $_) } @{ $args{headers} // [] }),
               '--write-out', '%{http_code} %{header_json}\n' . $END . '\n', '--config', "$d/urls");
    open my $curl, '-|', @cmd or die "curl: $!";
    return { curl => $curl, dir => $d, count => scalar @paths };
}

sub geo_batch_finish {
    my ($run) = @_;
    my $d = $run->{dir};
    my $out = do { local $/; readline $run->{curl} } // '';
    close $run->{curl};
    my @records = split /^\Q$END\E\n/m, $out;
    return map {
        my ($status, $json) = ($records[$_] // '0 {}') =~ /\A(\d+) (.*)\z/s;
        my $h = eval { decode_json($json) } // {};
        { status => $status + 0, headers => { map { $_ => join ', ', @{ $h->{$_} } } keys %$h },
          body => -e "$d/body.$_" ? slurp("$d/body.$_") : '' }
    } 0 .. $run->{count} - 1;
}

sub geo_get {
    my (%args) = @_;
    my $path = delete $args{path};
    return (geo_batch(%args, paths => [$path]))[0];
}

# --- the daemon -------------------------------------------------------------------

my $origin = start_origin();
my $admin_port = AnyEdgeTest::empty_port();
my $port6 = AnyEdgeTest::empty_port();
my $rules = <<'YAML';
[{ path: /eu-only/, allow-continents: [EU] },
 { path: /no-us/, deny-countries: [US], status: 451, body: "not in your country\n" },
 { path: /no-as/, deny-asns: [AS64501] },
 { path: /only-as/, allow-asns: [64502, 64510] },
 { path: /no-eu/, deny-continents: [eu] },
 { path: /only-c/, allow-countries: [JP, CH, ca] },
 { path: /mixed/, allow-countries: [DE, FR], deny-asns: [64501] }]
YAML
$rules =~ s/\n/ /g;
my %sites = (
    geo    => { host => 'geo.test', origin => $origin->{url}, extra => { geo => { rules => $rules } } },
    keyed  => { host => 'keyed.test', origin => $origin->{url}, extra => { cache => { key => { headers => '[X-Geo-Country]' } } } },
    region => { host => 'region.test', origin => $origin->{url}, extra => { cache => { key => { headers => '[x-geo-region]' } } } },
    plain  => { host => 'plain.test', origin => $origin->{url} },
);
my $geo_yaml = <<"YAML";
admin:
  listen: "127.0.0.1:$admin_port"
geo:
  database: "$db"
  asn-database: "$asn"
  check-interval: 300ms
  response-headers: true
  regions:
    eu: [DE, FR, CH, AT]
    na: [US, CA]
YAML
my $ae = start_anyedge(sites => [ @sites{qw(geo keyed region plain)} ], extra_listen => ["[::1]:$port6"],
                       extra_yaml => $geo_yaml);
my %c = (port => $ae->{port}, port6 => $port6);

sub echo_of { parse_echo($_[0]{body})->{header} }

subtest 'headers to the origin; client copies stripped' => sub {
    my $n = 0;
    my @spoof = ('X-Geo-Country: XX', 'x-geo-asn: 1', 'X-Geo-City: Nowhere', 'X-Geo-Continent: AN', 'X-Geo-Region: moon');
    my $r = geo_get(%c, ip => '127.0.0.5', host => 'plain.test', path => '/h' . ++$n . '?echo=1&cc=no-store', headers => \@spoof);
    is($r->{status}, 200, 'status 200');
    my $h = echo_of($r);
    is($h->{'x-geo-country'}, 'DE', 'X-Geo-Country: DE (the client\'s XX is gone)');
    is($h->{'x-geo-continent'}, 'EU', 'X-Geo-Continent');
    is($h->{'x-geo-asn'}, '64500', 'X-Geo-ASN from the ASN database');
    is($h->{'x-geo-city'}, 'M%C3%BCnchen', 'X-Geo-City, UTF-8 percent-encoded');
    is($h->{'x-geo-region'}, 'eu', 'X-Geo-Region from geo.regions');
    like(parse_echo($r->{body})->{body} . $r->{body}, qr/^X-Geo-Country: DE$/m, 'sent with the configured case');
    is($r->{headers}{'x-geo-country'}, 'DE', 'and on the response (geo.response-headers)');

    $r = geo_get(%c, ip => '127.0.0.1', host => 'plain.test', path => '/h' . ++$n . '?echo=1&cc=no-store', headers => \@spoof);
    $h = echo_of($r);
    ok(!exists $h->{$_}, "unknown address: no $_ at all") for qw(x-geo-country x-geo-continent x-geo-asn x-geo-city);
    is($h->{'x-geo-region'}, 'other', 'region "other"');

    $r = geo_get(%c, ip => '127.0.1.77', host => 'plain.test', path => '/h' . ++$n . '?echo=1&cc=no-store');
    $h = echo_of($r);
    is("$h->{'x-geo-country'} $h->{'x-geo-asn'} $h->{'x-geo-region'}", 'CA 64503 na', 'an address inside a range: CA');
    ok(!exists $h->{'x-geo-city'}, 'no city in the record: no X-Geo-City');

    $r = geo_get(%c, ip => '::1', host => 'plain.test', path => '/h' . ++$n . '?echo=1&cc=no-store', headers => \@spoof);
    $h = echo_of($r);
    is($r->{status}, 200, 'IPv6 client: 200');
    is("$h->{'x-geo-country'} $h->{'x-geo-continent'} $h->{'x-geo-asn'} $h->{'x-geo-city'}", 'CH EU 64510 Z%C3%BCrich',
       'IPv6 client ::1: CH, EU, 64510, Zürich');
};

subtest 'geo rules' => sub {
    my @cases = (
        # path, ip, status
        ['/eu-only/a', '127.0.0.5', 200], ['/eu-only/a', '::1', 200], ['/eu-only/a', '127.0.0.7', 403],
        ['/eu-only/a', '127.0.0.1', 403],    # unknown is in no allow list
        ['/no-us/a', '127.0.0.7', 451], ['/no-us/a', '127.0.0.8', 200], ['/no-us/a', '127.0.0.1', 200],
        ['/no-as/a', '127.0.0.6', 403], ['/no-as/a', '127.0.0.5', 200],
        ['/only-as/a', '127.0.0.7', 200], ['/only-as/a', '::1', 200], ['/only-as/a', '127.0.0.5', 403],
        ['/no-eu/a', '127.0.0.6', 403], ['/no-eu/a', '::1', 403], ['/no-eu/a', '127.0.0.9', 200],
        ['/only-c/a', '127.0.0.8', 200], ['/only-c/a', '127.0.1.3', 200], ['/only-c/a', '127.0.0.9', 403],
        ['/mixed/a', '127.0.0.5', 200], ['/mixed/a', '127.0.0.6', 403], ['/mixed/a', '127.0.0.7', 403],
        ['/elsewhere', '127.0.0.7', 200],    # no rule for this path
    );
    for my $case (@cases) {
        my ($path, $ip, $status) = @$case;
        my $r = geo_get(%c, ip => $ip, host => 'geo.test', path => $path);
        is($r->{status}, $status, "$path from $ip: $status");
    }
    my $r = geo_get(%c, ip => '127.0.0.7', host => 'geo.test', path => '/no-us/body');
    is($r->{body}, "not in your country\n", 'the configured body');
    like($r->{headers}{'cache-control'}, qr/no-store/, 'Cache-Control: private, no-store');
    $r = geo_get(%c, ip => '127.0.0.6', host => 'geo.test', path => '/no-as/body');
    like($r->{body}, qr/not available in your location/, 'the default body');
    is(origin_count($origin, '/no-us/body'), 0, 'a refused request never reaches the origin');

    # decided before the cache lookup, never stored under the shared key
    my $path = '/no-us/cached';
    $r = geo_get(%c, ip => '127.0.0.7', host => 'geo.test', path => $path);
    is($r->{status}, 451, 'US first: 451');
    $r = geo_get(%c, ip => '127.0.0.5', host => 'geo.test', path => $path);
    is("$r->{status} $r->{headers}{'x-cache'}", '200 MISS', 'then DE: 200 MISS (the 451 was not stored)');
    ok(wait_until(5, sub { (geo_get(%c, ip => '127.0.0.5', host => 'geo.test', path => $path)->{headers}{'x-cache'} // '') eq 'HIT' }),
       'DE: HIT');
    $r = geo_get(%c, ip => '127.0.0.7', host => 'geo.test', path => $path);
    is($r->{status}, 451, 'US again: 451, although the object is cached');
    is(origin_count($origin, $path), 1, 'the origin saw one request');
};

# Repeats a GET until it is a HIT (5 s at most); the last response.
sub until_hit {
    my (%args) = @_;
    my $r;
    wait_until(5, sub { $r = geo_get(%args); ($r->{headers}{'x-cache'} // '') eq 'HIT' });
    return $r;
}

subtest 'cache key by country' => sub {
    my $path = '/by-country?echo=1';
    my $de = geo_get(%c, ip => '127.0.0.5', host => 'keyed.test', path => $path);
    is($de->{headers}{'x-cache'}, 'MISS', 'DE: MISS');
    is(until_hit(%c, ip => '127.0.0.5', host => 'keyed.test', path => $path)->{headers}{'x-cache'}, 'HIT', 'DE: then HIT');
    my $fr = geo_get(%c, ip => '127.0.0.6', host => 'keyed.test', path => $path, headers => ['X-Geo-Country: DE']);
    is($fr->{headers}{'x-cache'}, 'MISS', 'FR (claiming DE): MISS, its own variant');
    is(echo_of($fr)->{'x-geo-country'}, 'FR', 'the origin was told FR');
    my $hit = until_hit(%c, ip => '127.0.0.6', host => 'keyed.test', path => $path);
    is(echo_of($hit)->{'x-geo-country'}, 'FR', 'FR: HIT with the FR response');
    $hit = geo_get(%c, ip => '127.0.0.5', host => 'keyed.test', path => $path);
    is(echo_of($hit)->{'x-geo-country'}, 'DE', 'DE: still the DE response');
    is(origin_count($origin, $path), 2, 'the origin saw two requests');
};

subtest 'cache key by region' => sub {
    my $path = '/by-region?echo=1';
    my @expect = (['127.0.0.5', 'MISS', 'eu'], ['127.0.0.6', 'HIT', 'eu'], ['::1', 'HIT', 'eu'], ['127.0.0.7', 'MISS', 'na'],
                  ['127.0.1.9', 'HIT', 'na'], ['127.0.0.8', 'MISS', 'other'], ['127.0.0.1', 'HIT', 'other']);
    for my $e (@expect) {
        my ($ip, $result, $region) = @$e;
        my $r = $result eq 'HIT' ? until_hit(%c, ip => $ip, host => 'region.test', path => $path)
                                 : geo_get(%c, ip => $ip, host => 'region.test', path => $path);
        is("$r->{headers}{'x-cache'} " . echo_of($r)->{'x-geo-region'}, "$result $region", "$ip: $result, the $region variant");
    }
    is(origin_count($origin, $path), 3, 'three variants fetched');
};

subtest 'Vary on the geo header' => sub {
    my $path = origin_path('/vary', echo => 1, h => 'Vary: X-Geo-Country');
    is(geo_get(%c, ip => '127.0.0.5', host => 'plain.test', path => $path)->{headers}{'x-cache'}, 'MISS', 'DE: MISS');
    until_hit(%c, ip => '127.0.0.5', host => 'plain.test', path => $path);
    my $fr = geo_get(%c, ip => '127.0.0.6', host => 'plain.test', path => $path, headers => ['X-Geo-Country: DE']);
    is($fr->{headers}{'x-cache'}, 'MISS', 'FR (claiming DE): MISS');
    my $hit = until_hit(%c, ip => '127.0.0.6', host => 'plain.test', path => $path);
    is(echo_of($hit)->{'x-geo-country'}, 'FR', 'FR: HIT, the FR variant');
    is(echo_of(geo_get(%c, ip => '127.0.0.5', host => 'plain.test', path => $path))->{'x-geo-country'}, 'DE', 'DE: the DE variant');
};

sub catchment {
    my $r = http(port => $admin_port, path => '/geo/catchment');
    return eval { decode_json($r->{body}) } // {};
}

sub count_of {
    my ($list, $field, $value) = @_;
    my ($entry) = grep { $_->{$field} eq $value } @$list;
    return $entry ? $entry->{requests} : 0;
}

subtest 'catchment' => sub {
    my $before = catchment();
    ok($before->{enabled}, 'enabled');
    ok($before->{database}{build_epoch} > 0, 'the database\'s build time');
    geo_batch(%c, ip => '127.0.0.8', host => 'plain.test', paths => [map { "/catch/$_" } 1 .. 7]);
    geo_batch(%c, ip => '127.0.0.9', host => 'plain.test', paths => [map { "/catch/$_" } 1 .. 3]);
    geo_batch(%c, ip => '127.0.0.1', host => 'plain.test', paths => [map { "/catch/$_" } 1 .. 2]);
    my $after = catchment();
    is($after->{requests} - $before->{requests}, 12, '12 more requests');
    is(count_of($after->{countries}, 'country', 'JP') - count_of($before->{countries}, 'country', 'JP'), 7, 'JP: 7 more');
    is(count_of($after->{countries}, 'country', 'BR') - count_of($before->{countries}, 'country', 'BR'), 3, 'BR: 3 more');
    is($after->{unknown_country} - $before->{unknown_country}, 2, 'unknown: 2 more');
    is(count_of($after->{asns}, 'asn', 64500) - count_of($before->{asns}, 'asn', 64500), 7, 'AS64500: 7 more (JP)');
    is($after->{unknown_asn} - $before->{unknown_asn}, 5, 'unknown AS: 5 more (BR and unknown)');
    my @counts = map { $_->{requests} } @{ $after->{countries} };
    is_deeply(\@counts, [sort { $b <=> $a } @counts], 'countries sorted by requests');
    is(http(port => $ae->{port}, host => 'plain.test', path => '/geo/catchment')->{body} =~ /hello from demo origin/ ? 1 : 0, 1,
       'not on the sites\' listener');
};

# Runs batches of requests from 127.0.0.5 until $done->() or 20 s, calling
# the @during subs one after each batch, while another client (on 127.0.0.6)
# keeps 400 more requests going in the background; every response's
# X-Geo-Country (or "fail STATUS").
sub client_loop {
    my ($done, @during) = @_;
    my @seen;
    my $deadline = time + 20;
    my $n = 0;
    my $background = geo_batch_start(%c, ip => '127.0.0.6', host => 'plain.test', paths => [map { '/loop/' . ($_ % 5) } 1 .. 400]);
    while (time < $deadline) {
        my @r = geo_batch(%c, ip => '127.0.0.5', host => 'plain.test', paths => [map { '/loop/' . ($n++ % 5) } 1 .. 20]);
        push @seen, map { $_->{status} == 200 ? $_->{headers}{'x-geo-country'} // 'none' : "fail $_->{status}" } @r;
        (shift @during)->() if @during;
        last if !@during && $done->(\@seen);
    }
    my @others = map { $_->{status} == 200 ? $_->{headers}{'x-geo-country'} // 'none' : "fail $_->{status}" }
        geo_batch_finish($background);
    is(scalar(grep { $_ ne 'FR' } @others), 0, 'the other client: 400 requests, all 200 and FR');
    return \@seen;
}

sub failures { return scalar grep { /^fail/ } @{ $_[0] } }

subtest 'reload: atomic rename' => sub {
    my $reloads = catchment()->{database}{reloads};
    my $seen = client_loop(sub { $_[0][-1] eq 'AT' }, sub {
        system('cp', $city_v2, "$db.tmp") == 0 or die;
        rename "$db.tmp", $db or die;
    });
    is(failures($seen), 0, 'no failed request (' . scalar(@$seen) . ' requests)');
    is($seen->[0], 'DE', 'DE before');
    is($seen->[-1], 'AT', 'AT after, without a restart');
    is(catchment()->{database}{reloads}, $reloads + 1, 'one reload');
    like(slurp($ae->{stderr_log}), qr/geo: reloaded/, 'logged');
};

subtest 'reload: a bad file keeps the loaded database' => sub {
    my $failures = catchment()->{database}{reload_failures};
    open my $fh, '>', "$db.tmp" or die;
    print $fh "this is not a MaxMind database\n" x 100;
    close $fh;
    rename "$db.tmp", $db or die;
    ok(wait_until(5, sub { catchment()->{database}{reload_failures} == $failures + 1 }), 'the reload failed');
    like(slurp($ae->{stderr_log}), qr/geo: keeping the loaded database: .*not a usable MaxMind database/, 'logged');
    my @r = geo_batch(%c, ip => '127.0.0.5', host => 'plain.test', paths => [map { "/bad/$_" } 1 .. 10]);
    is(scalar(grep { $_->{status} == 200 && $_->{headers}{'x-geo-country'} eq 'AT' } @r), 10, 'still served with the old database');
};

subtest 'reload: overwritten in place, truncated first' => sub {
    # the file is truncated and rewritten in pieces while requests run
    my $content = slurp($city_v1);
    my $len = length $content;
    my $seen = client_loop(sub { $_[0][-1] eq 'DE' }, sub {
        open my $fh, '+<:raw', $db or die;
        truncate $fh, 0;
        close $fh;
    }, map { my $i = $_; sub {
        open my $fh, '>>:raw', $db or die;
        print $fh substr($content, $i * int($len / 4), $i == 3 ? $len : int($len / 4));
        close $fh;
    } } 0 .. 3);
    is(failures($seen), 0, 'no failed request (' . scalar(@$seen) . ' requests)');
    is($seen->[-1], 'DE', 'the rewritten file is in use');
    ok(anyedge_running($ae), 'the daemon is running');
};

subtest 'lookups of IPv4-mapped addresses (unit_geo with the fixture)' => sub {
    my $unit = ($ENV{ANYEDGE_BIN} // "$FindBin::Bin/../build/anyedge") =~ s{anyedge$}{unit/unit_geo}r;
    plan skip_all => "$unit is not built" unless -x $unit;
    local $ENV{ANYEDGE_GEO_FIXTURE} = $city_v1;
    my $out = `$unit`;
    is($?, 0, 'unit_geo passes') or diag($out);
    like($out, qr/^ok \d+ - ::ffff:127\.0\.0\.5: DE$/m, '::ffff:127.0.0.5 is DE');
};

subtest 'the client address from a trusted proxy (X-Forwarded-For)' => sub {
    my $proxied = start_anyedge(sites => [ $sites{plain} ],
                                extra_yaml => "trusted-proxies: [127.0.0.2/32]\ngeo:\n  database: \"$city_v1\"\n");
    my %p = (port => $proxied->{port}, host => 'plain.test');
    my $r = geo_get(%p, ip => '127.0.0.2', path => '/xff?echo=1&cc=no-store', headers => ['X-Forwarded-For: 127.0.0.7']);
    is(echo_of($r)->{'x-geo-country'}, 'US', 'from a trusted proxy: located by X-Forwarded-For (US)');
    $r = geo_get(%p, ip => '127.0.0.5', path => '/xff?echo=1&cc=no-store', headers => ['X-Forwarded-For: 127.0.0.7']);
    is(echo_of($r)->{'x-geo-country'}, 'DE', 'from anyone else: by the peer (DE)');
    is(stop_anyedge($proxied), 0, 'stops cleanly');
};

subtest 'the country in the JSON access log' => sub {
    my $log = "$dir/access.json";
    my $logged = start_anyedge(sites => [ $sites{plain} ],
                               extra_yaml => "log:\n  access: \"$log\"\n  format: json\ngeo:\n  database: \"$city_v1\"\n");
    my %p = (port => $logged->{port}, host => 'plain.test');
    geo_get(%p, ip => '127.0.0.5', path => '/logged-de');
    is(stop_anyedge($logged), 0, 'stops cleanly (the log is flushed)');
    my ($line) = grep { m{"uri":"/logged-de"} } split /\n/, slurp($log);
    like($line // '', qr/"country":"DE"/, 'the line of a request from DE says "country":"DE"');
};

subtest 'start-up errors' => sub {
    my $conf = sub {
        my ($geo) = @_;
        return write_config(temp_dir(), config_yaml(port => AnyEdgeTest::empty_port(), cache_path => "$dir/cache-x",
                                                     sites => [ $sites{plain} ], extra_yaml => $geo));
    };
    my ($exit, $err) = run_anyedge_check($conf->("geo:\n  database: \"$dir/missing.mmdb\"\n"));
    is($exit, 1, 'a missing database: exit 1');
    like($err, qr/anyedge\.conf:\d+: 'geo\.database': cannot open .*missing\.mmdb: No such file/, 'names the file and why');
    ($exit, $err) = run_anyedge_check($conf->("geo:\n  database: \"$ae->{conf}\"\n"));
    is($exit, 1, 'not an MMDB: exit 1');
    like($err, qr/'geo\.database': .* is not a usable MaxMind database/, 'says so');
    ($exit, $err) = run_anyedge_check($conf->("geo:\n  database: \"$dir/missing.mmdb\"\n  on-error: disable\n"));
    is($exit, 0, 'on-error: disable: exit 0');
    like($err, qr/geo lookups are disabled/, 'with a warning');
    ($exit, $err) = run_anyedge_check($conf->("geo:\n  database: \"$db\"\n  headers:\n    country: \"X Bad\"\n"));
    is($exit, 1, 'a bad header name: exit 1');
    ($exit, $err) = run_anyedge_check($conf->("geo:\n  regions:\n    eu: [DE]\n"));
    like($err, qr/need 'geo\.database'/, 'geo settings without a database');

    # disabled: no lookups, but the client's copies are still removed
    my $later = "$dir/later.mmdb";
    my $off = start_anyedge(sites => [ $sites{plain} ],
                            extra_yaml => "geo:\n  database: \"$later\"\n  on-error: disable\n  check-interval: 200ms\n");
    my $r = geo_get(port => $off->{port}, ip => '127.0.0.5', host => 'plain.test', path => '/off?echo=1&cc=no-store',
                    headers => ['X-Geo-Country: XX', 'X-Geo-Region: moon']);
    is($r->{status}, 200, 'geo disabled: served');
    ok(!exists echo_of($r)->{'x-geo-country'}, 'and the client\'s X-Geo-Country is removed');
    ok(!exists echo_of($r)->{'x-geo-region'}, 'and X-Geo-Region (no geo.regions: never set, always removed)');
    system('cp', $city_v1, "$later.tmp") == 0 or die;
    rename "$later.tmp", $later or die;
    ok(wait_until(5, sub { (echo_of(geo_get(port => $off->{port}, ip => '127.0.0.5', host => 'plain.test',
                                            path => '/later?echo=1&cc=no-store'))->{'x-geo-country'} // '') eq 'DE' }),
       'once the file appears, it is loaded: DE');
    is(stop_anyedge($off), 0, 'stops cleanly');
};

is(stop_anyedge($ae), 0, 'anyedge exits 0');
unlike(slurp($ae->{stderr_log}), qr/AddressSanitizer|runtime error/, 'no sanitizer report');
done_testing();
