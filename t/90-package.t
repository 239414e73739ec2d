# t/90-package.t -- the Debian package: built with packaging/build-deb (into build-deb/, whose
# CMake build dir is reused), linted, installed with dpkg -i on this machine; its files, user,
# groups, config permissions and directories checked, the installed config through `anyedge -t`
# (as root and as anyedge), drain/undrain, the unit's key lines and `systemd-analyze verify`, the
# man pages; a reinstall (the upgrade path: local config and the store kept), removal, and a purge
# that leaves nothing but the anyedge user and group (kept, as Debian packages keep system users).
# The service is never started: CI may not run systemd as PID 1.
use strict;
use warnings;
use Cwd qw(abs_path);
use Fcntl qw(:flock);
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest qw(slurp);
use Test::More;
use Time::HiRes qw(time);

my $ROOT = abs_path("$FindBin::Bin/..");
my $CONF = '/etc/anyedge/anyedge.conf';
my $UNIT = '/lib/systemd/system/anyedge.service';

plan skip_all => 'needs root (dpkg -i, a system user)' if $> != 0;
plan skip_all => 'the sanitizer pass: the package ships a release build, built and tested in the plain pass'
    if ($ENV{ANYEDGE_BIN} // '') =~ m{/build-asan/};
# one run at a time on a machine: it installs and purges a system package
my $lock_dir = -d '/run/lock' ? '/run/lock' : '/tmp';
open my $lock, '>', "$lock_dir/anyedge-package-test.lock" or die "lock: $!\n";
flock($lock, LOCK_EX) or die "flock: $!\n";
plan skip_all => 'the anyedge package is installed here already; this test would replace and purge it'
    if package_status() ne '';

# --- helpers ------------------------------------------------------------------

sub quote { my ($s) = @_; return "'" . ($s =~ s/'/'\\''/gr) . "'" }

# Run a shell command line; (exit code, stdout and stderr together).
sub sh {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

sub have { my ($tool) = @_; return grep { -x "$_/$tool" } split /:/, $ENV{PATH} }

# "USER:GROUP MODE" of a path, or '' if it does not exist.
sub owner_mode {
    my @st = stat $_[0] or return '';
    return sprintf '%s:%s %04o', scalar getpwuid($st[4]), scalar getgrgid($st[5]), $st[2] & 07777;
}

# dpkg's status of the anyedge package ('' when it has none).
sub package_status {
    my ($exit, $out) = sh(q{dpkg-query -W -f='${db:Status-Abbrev}' anyedge});
    return $exit == 0 ? $out =~ s/\s+\z//r : '';
}

# Paths dpkg is told not to unpack (path-exclude in /etc/dpkg/dpkg.cfg.d, as minimal container
# images do for man pages and docs), as regexes; path-include wins over them.
my (@EXCLUDE, @INCLUDE);
for my $file (glob '/etc/dpkg/dpkg.cfg.d/*') {
    for (split /\n/, slurp($file)) {
        my ($kind, $glob) = /\A\s*path-(exclude|include)[=\s]+(\S+)/ or next;
        my $re = join '', map { $_ eq '*' ? '.*' : $_ eq '?' ? '.' : quotemeta } split /([*?])/, $glob;
        push @{ $kind eq 'exclude' ? \@EXCLUDE : \@INCLUDE }, qr/\A$re\z/;
    }
}
sub excluded {
    my ($path) = @_;
    return (grep { $path =~ $_ } @EXCLUDE) && !(grep { $path =~ $_ } @INCLUDE);
}

my $installed = 0;
END {
    local $?;
    system('dpkg --purge anyedge >/dev/null 2>&1') if $installed && package_status() ne '';
}

# --- build --------------------------------------------------------------------

my ($version) = slurp("$ROOT/CMakeLists.txt") =~ /project\(anyedge VERSION (\S+)/;
my $deb;
subtest 'build' => sub {
    my $started = time;
    my ($exit, $out) = sh('sh ' . quote("$ROOT/packaging/build-deb") . ' ' . quote("$ROOT/build-deb"));
    is($exit, 0, 'packaging/build-deb succeeded') or diag $out;
    ($deb) = $out =~ /^(\S+\.deb)$/m;
    ok(defined $deb && -f $deb, 'it names the .deb') or BAIL_OUT("no package built:\n$out");
    note(sprintf 'built %s in %.1fs', $deb, time - $started);
    my ($e, $deb_version) = sh('dpkg-deb -f ' . quote($deb) . ' Version');
    is($deb_version =~ s/\s+\z//r =~ s/-[^-]+\z//r, $version,
        'its version is the one in CMakeLists.txt (packaging/debian/changelog follows it)');
    for my $page ('anyedge.8', 'anyedge.conf.5') {
        like(slurp("$ROOT/packaging/man/$page"), qr/^\.TH .* "anyedge \Q$version\E" /m, "packaging/man/$page names version $version");
    }
    my (undef, $contents) = sh('dpkg-deb -c ' . quote($deb));
    for my $path ('./usr/sbin/anyedge', './etc/anyedge/anyedge.conf', './lib/systemd/system/anyedge.service',
                  './usr/lib/tmpfiles.d/anyedge.conf', './usr/share/man/man8/anyedge.8.gz',
                  './usr/share/man/man5/anyedge.conf.5.gz', './usr/share/doc/anyedge/copyright',
                  './usr/share/doc/anyedge/README.md', './usr/share/doc/anyedge/examples/bird/anyedge.conf',
                  './usr/share/doc/anyedge/examples/exabgp/anyedge.conf', './etc/logrotate.d/anyedge') {
        like($contents, qr/ \Q$path\E$/m, "ships $path");
    }
    unlike($contents, qr{ \./var/cache/anyedge}, 'not the store: the postinst makes it, owned by anyedge');
};

# --- lintian ------------------------------------------------------------------

SKIP: {
    skip 'lintian is not installed (packaging/install-deps installs it)', 1 unless have('lintian');
    my ($exit, $out) = sh('lintian -I --pedantic --show-overrides --fail-on error,warning ' . quote($deb));
    $out =~ s/^running with root privileges is not recommended!\n//m;
    is($exit, 0, 'lintian: no errors or warnings') or diag $out;
    note("lintian -I --pedantic --show-overrides:\n" . ($out eq '' ? "(nothing)\n" : $out));
}

# --- install ------------------------------------------------------------------

subtest 'install' => sub {
    my ($exit, $out) = sh('dpkg -i ' . quote($deb));
    $installed = 1;
    is($exit, 0, 'dpkg -i') or diag $out;
    is(package_status(), 'ii', 'installed');

    ok(-x '/usr/sbin/anyedge', '/usr/sbin/anyedge');
    like((sh('/usr/sbin/anyedge --version'))[1], qr/\Aanyedge \Q$version\E$/m, 'anyedge --version');
    ok(-f $CONF, $CONF);
    like((sh(q{dpkg-query -W -f='${Conffiles}' anyedge}))[1], qr{^ \Q$CONF\E [0-9a-f]{32}$}m, 'it is a conffile');
    is(owner_mode($CONF), 'root:anyedge 0640', 'readable by root and group anyedge only (it may hold admin.token)');
    like((sh("dpkg-statoverride --list $CONF"))[1], qr{^root anyedge 0?640 \Q$CONF\E$}, 'through a statoverride');
    ok(-f $UNIT, $UNIT);
    ok(-f '/usr/lib/tmpfiles.d/anyedge.conf', 'the tmpfiles.d entry for /run/anyedge');
    for my $path ('/usr/share/man/man8/anyedge.8.gz', '/usr/share/man/man5/anyedge.conf.5.gz',
                  '/usr/share/doc/anyedge/examples/bird/anyedge.conf') {
        SKIP: {
            skip "dpkg excludes $path here (path-exclude in /etc/dpkg/dpkg.cfg.d)", 1 if excluded($path);
            ok(-f $path, $path);
        }
    }

    my @pw = getpwnam('anyedge');
    ok(@pw, 'user anyedge exists') or return;
    cmp_ok($pw[2], '<', 1000, 'a system user');
    is(scalar getgrgid($pw[3]), 'anyedge', 'its group is anyedge');
    like($pw[8], qr{/(?:nologin|false)\z}, 'no login shell');
    if (my @bird = getgrnam('bird')) {
        like(" $bird[3] ", qr/ anyedge /, 'a member of group bird (BIRD\'s control socket)');
    }
    if (getpwnam('exabgp')) {
        like(' ' . (getgrnam('anyedge'))[3] . ' ', qr/ exabgp /, 'user exabgp is in group anyedge (`anyedge exabgp` reads the config)');
    }
    is(owner_mode('/var/cache/anyedge'), 'anyedge:anyedge 0750', 'the store: owned by anyedge, 0750');
    is(owner_mode('/var/log/anyedge'), 'anyedge:anyedge 0750', '/var/log/anyedge: owned by anyedge, 0750');
    SKIP: {
        skip 'no systemd-tmpfiles here', 1 unless have('systemd-tmpfiles');
        is(scalar getpwuid((stat '/run/anyedge')[4] // -1), 'anyedge', '/run/anyedge exists (tmpfiles), owned by anyedge');
    }
    my ($enabled) = glob '/etc/systemd/system/*.wants/anyedge.service';
    ok(!defined $enabled, 'the service is not enabled on install');
};

subtest 'the installed config and unit' => sub {
    my ($exit, $out) = sh("/usr/sbin/anyedge -t -c $CONF");
    is($exit, 0, 'anyedge -t accepts the installed config') or diag $out;
    ($exit, $out) = sh("runuser -u anyedge -- /usr/sbin/anyedge -t -c $CONF");
    is($exit, 0, 'also as user anyedge (as ExecStartPre runs it)') or diag $out;
    SKIP: {
        skip 'no /run/anyedge (no systemd-tmpfiles)', 2 unless -d '/run/anyedge';
        ($exit, $out) = sh("/usr/sbin/anyedge drain -c $CONF");
        ok($exit == 0 && -e '/run/anyedge/drain', 'anyedge drain creates the drain file in /run/anyedge') or diag $out;
        ($exit, $out) = sh("/usr/sbin/anyedge undrain -c $CONF");
        ok($exit == 0 && !-e '/run/anyedge/drain', 'anyedge undrain removes it') or diag $out;
    }

    my $unit = slurp($UNIT);
    for my $line ('Type=notify', 'User=anyedge', 'Group=anyedge', "ExecStartPre=/usr/sbin/anyedge -t -c $CONF",
                  "ExecStart=/usr/sbin/anyedge -c $CONF", 'ExecReload=/bin/kill -HUP $MAINPID',
                  "ExecStopPost=-/usr/sbin/anyedge withdraw -c $CONF", 'AmbientCapabilities=CAP_NET_BIND_SERVICE',
                  # a graceful stop after a reload too (the main process is then not systemd's child)
                  q{ExecStop=/bin/sh -c 'kill -TERM $$MAINPID && while kill -0 $$MAINPID 2>/dev/null; do sleep 0.1; done'},
                  'RuntimeDirectory=anyedge', 'CacheDirectory=anyedge', 'LogsDirectory=anyedge', 'ProtectSystem=strict',
                  'ProtectHome=yes', 'PrivateTmp=yes', 'NoNewPrivileges=yes',
                  # the process a reload starts must feed the watchdog too
                  'UnsetEnvironment=WATCHDOG_PID') {
        like($unit, qr/^\Q$line\E$/m, "the unit has $line");
    }
    like($unit, qr/^WatchdogSec=\d+s$/m, 'and a WatchdogSec=');
    unlike($unit, qr/^SupplementaryGroups=/m, 'no SupplementaryGroups= (a missing group would stop the start)');

    SKIP: {
        skip 'no systemd-analyze (packaging/install-deps installs systemd)', 1 unless have('systemd-analyze');
        my $man = excluded('/usr/share/man/man8/anyedge.8.gz') || !have('man') ? ' --man=no' : '';
        ($exit, $out) = sh("systemd-analyze verify$man $UNIT");
        ok($exit == 0 && $out eq '', "systemd-analyze verify$man: clean") or diag $out;
    }
    SKIP: {
        skip 'no man (man-db)', 2 unless have('man');
        skip 'dpkg excludes man pages here', 2 if excluded('/usr/share/man/man8/anyedge.8.gz');
        is((sh('man -w anyedge'))[1], "/usr/share/man/man8/anyedge.8.gz\n", 'man -w anyedge');
        is((sh('man -w anyedge.conf'))[1], "/usr/share/man/man5/anyedge.conf.5.gz\n", 'man -w anyedge.conf');
    }
};

subtest 'reinstall (the upgrade path) keeps the local config and the store' => sub {
    my $uid = getpwnam('anyedge');
    open my $fh, '>>', $CONF or die "$CONF: $!\n";
    print {$fh} "# a local change\n";
    close $fh;
    open $fh, '>', '/var/cache/anyedge/kept' or die "/var/cache/anyedge/kept: $!\n";
    close $fh;
    my ($exit, $out) = sh('dpkg -i --force-confold ' . quote($deb));
    is($exit, 0, 'dpkg -i again') or diag $out;
    like(slurp($CONF), qr/^# a local change$/m, 'the local change to the conffile is kept');
    is(owner_mode($CONF), 'root:anyedge 0640', 'and its owner and mode');
    ok(-e '/var/cache/anyedge/kept', 'the store is untouched');
    is(scalar getpwnam('anyedge'), $uid, 'the same user');
};

# --- remove, purge ------------------------------------------------------------

subtest 'remove, then purge' => sub {
    my ($exit, $out) = sh('dpkg -r anyedge');
    is($exit, 0, 'dpkg -r') or diag $out;
    is(package_status(), 'rc', 'removed, its config kept');
    ok(!-e '/usr/sbin/anyedge' && !-e $UNIT, 'the binary and the unit are gone');
    ok(-f $CONF, 'the config stays until purge');

    ($exit, $out) = sh('dpkg --purge anyedge');
    is($exit, 0, 'dpkg --purge') or diag $out;
    is(package_status(), '', 'dpkg knows nothing of anyedge any more');
    is((sh("dpkg-statoverride --list $CONF"))[1], '', 'the statoverride is gone');
    for my $path ('/etc/anyedge', '/var/cache/anyedge', '/var/log/anyedge', '/run/anyedge', '/usr/lib/tmpfiles.d/anyedge.conf',
                  '/etc/logrotate.d/anyedge',
                  '/usr/share/doc/anyedge', '/usr/share/man/man8/anyedge.8.gz',
                  '/var/lib/systemd/deb-systemd-helper-enabled/anyedge.service.dsh-also') {
        ok(!-e $path, "$path is gone");
    }
    my @links = glob '/etc/systemd/system/*/anyedge.service';
    is("@links", '', 'no unit symlinks left');
    ok(defined getpwnam('anyedge') && defined getgrnam('anyedge'),
        'the anyedge user and group stay (README: "Install from the Debian package")');
    $installed = 0;
};

done_testing;
