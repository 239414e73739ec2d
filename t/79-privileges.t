# t/79-privileges.t -- started as root with `user:` (and `group:`), anyedge binds, reads its keys
# and opens its store as root, then runs as that user; without `user:` it warns; an unknown user or
# group, or `user:` without root, stops the start.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

plan skip_all => 'needs root' unless $> == 0;
my ($nobody_uid, $nobody_gid) = (getpwnam('nobody'))[2, 3];
plan skip_all => 'no user nobody' unless defined $nobody_uid;

my $dir = temp_dir();
my $origin = start_origin();
# a key only root can read: it must be read before the switch
system('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', "$dir/a.key",
       '-out', "$dir/a.crt", '-days', '2', '-subj', '/CN=a.test', '-addext', 'subjectAltName=DNS:a.test') == 0
    or die "openssl req failed\n";
chmod 0600, "$dir/a.key";
my @sites = ({ host => 'a.test', origin => $origin->{url}, extra => { tls => { certificate => "$dir/a.crt", key => "$dir/a.key" } } });

# The Uid: and Gid: lines of /proc/PID/status (real, effective, saved, fs) and Groups:.
sub ids {
    my ($pid) = @_;
    my $status = slurp("/proc/$pid/status");
    my %ids = map { $status =~ /^$_:\s*(.*?)\s*$/m ? ($_ => $1) : () } qw(Uid Gid Groups);
    return \%ids;
}

# The listeners accept before the drop (they are bound first): wait for the drop itself.
sub wait_dropped {
    my ($ae) = @_;
    return wait_until(10, sub { slurp($ae->{stderr_log}) =~ /running as user / });
}

subtest 'user: nobody' => sub {
    my $tls_port = empty_port();
    my $ae = start_anyedge(sites => \@sites, extra_listen => [ { address => "127.0.0.1:$tls_port", tls => 'true' } ],
                           extra_yaml => "user: nobody\n");
    ok(wait_dropped($ae), 'dropped root');
    my $ids = ids($ae->{pid});
    is($ids->{Uid}, join("\t", ($nobody_uid) x 4), 'real, effective, saved and filesystem uid are nobody\'s');
    is($ids->{Gid}, join("\t", ($nobody_gid) x 4), 'and the gids its group');
    unlike(" $ids->{Groups} ", qr/ 0 /, 'no supplementary group root');
    for my $task (glob "/proc/$ae->{pid}/task/*") {
        my ($tid) = $task =~ m{(\d+)\z};
        my $status = slurp("$task/status");
        my ($uid) = $status =~ /^Uid:\s*(\d+)/m;
        is($uid, $nobody_uid, "thread $tid runs as nobody too");
    }
    like(slurp($ae->{stderr_log}), qr/running as user nobody \(uid $nobody_uid, gid $nobody_gid\)/, 'it says so');
    my @r = map {
        `curl -sS -k --resolve a.test:$tls_port:127.0.0.1 -o /dev/null -w '%{http_code} %header{x-cache}' 'https://a.test:$tls_port/priv?size=3000'`
    } 1 .. 2;
    is_deeply(\@r, ['200 MISS', '200 HIT'], 'the store (opened as root) still stores and serves: MISS then HIT over TLS');
    is(stop_anyedge($ae), 0, 'stops cleanly');
    $ae = restart_anyedge($ae);
    is(`curl -sS -k --resolve a.test:$tls_port:127.0.0.1 -o /dev/null -w '%header{x-cache}' 'https://a.test:$tls_port/priv?size=3000'`,
       'HIT', 'after a restart the object written as nobody is still there');
    is(stop_anyedge($ae), 0, 'stopped');
};

subtest 'group: daemon' => sub {
    my $gid = getgrnam('daemon');
    plan skip_all => 'no group daemon' unless defined $gid;
    my $ae = start_anyedge(sites => [ { host => 'a.test', origin => $origin->{url} } ], extra_yaml => "user: nobody\ngroup: daemon\n");
    ok(wait_dropped($ae), 'dropped root');
    is(ids($ae->{pid})->{Gid}, join("\t", ($gid) x 4), 'the configured group');
    is(stop_anyedge($ae), 0, 'stopped');
};

subtest 'root without user: a warning' => sub {
    my $ae = start_anyedge(sites => [ { host => 'a.test', origin => $origin->{url} } ]);
    like(slurp($ae->{stderr_log}), qr/\[warn\] running as root: set 'user'/, 'warns that it keeps running as root');
    is(stop_anyedge($ae), 0, 'stopped');
};

subtest 'start-up errors' => sub {
    my $cdir = temp_dir();
    chmod 0755, $cdir;
    mkdir "$cdir/cache" or die;
    chown $nobody_uid, $nobody_gid, "$cdir/cache";
    my $start = sub {
        my ($yaml, $as) = @_;
        my $conf = write_config($cdir, config_yaml(port => empty_port(), cache_path => "$cdir/cache",
                                                   sites => [ { host => 'a.test', origin => $origin->{url} } ], extra_yaml => $yaml));
        chmod 0644, $conf;
        my @cmd = (anyedge_bin(), '-c', $conf);
        unshift @cmd, 'setpriv', "--reuid=$nobody_uid", "--regid=$nobody_gid", '--clear-groups' if $as;
        my $out = `timeout 10 @cmd 2>&1`;
        return ($? >> 8, $out);
    };
    my ($exit, $out) = $start->("user: no-such-user-anyedge\n");
    is($exit, 1, 'an unknown user: exit 1');
    like($out, qr/:\d+: 'user': no such user 'no-such-user-anyedge'/, 'with FILE:LINE and the reason');
    ($exit, $out) = $start->("user: nobody\ngroup: no-such-group-anyedge\n");
    like($out, qr/:\d+: 'group': no such group 'no-such-group-anyedge'/, 'an unknown group');
  SKIP: {
        skip 'setpriv is not installed', 3 unless -x '/usr/bin/setpriv';
        ($exit, $out) = $start->("user: daemon\n", 'as nobody');
        is($exit, 1, 'user: daemon while running as nobody: exit 1');
        like($out, qr/cannot switch to user 'daemon': not running as root/, 'with the reason');

        # a key nobody cannot read: a clear error when not started as root
        system('cp', "$dir/a.crt", "$dir/a.key", $cdir) == 0 or die;
        chmod 0644, "$cdir/a.crt";
        chmod 0600, "$cdir/a.key";
        my $conf = write_config($cdir, config_yaml(port => empty_port(), cache_path => "$cdir/cache",
            extra_listen => [ { address => '127.0.0.1:' . empty_port(), tls => 'true' } ],
            sites => [ { host => 'a.test', origin => $origin->{url}, extra => { tls => { certificate => "$cdir/a.crt", key => "$cdir/a.key" } } } ]),
            'key.conf');
        chmod 0644, $conf;
        $out = `setpriv --reuid=$nobody_uid --regid=$nobody_gid --clear-groups ${\ anyedge_bin()} -t -c $conf 2>&1`;
        like($out, qr{\A\Q$conf\E:\d+: 'tls\.key': cannot load '\Q$cdir\E/a\.key': Permission denied}, 'an unreadable key: FILE:LINE and why');
    }
};

done_testing();
