# t/85-cache-deception.t -- web cache deception: with cache.content-type-check, a response whose
# Content-Type does not fit its URL's extension (an HTML page at /account.php/x.css) is not stored;
# fitting ones are, and URLs without a known extension are not checked. Without the option the
# extension plays no part.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [
    { host => 'checked.test', origin => $origin->{url}, extra => { cache => { 'content-type-check' => 'true' } } },
    { host => 'plain.test', origin => $origin->{url} },
]);

sub twice {
    my ($host, $path) = @_;
    my @r = map { http(port => $ae->{port}, host => $host, path => $path) } 1 .. 2;
    settle_cache(port => $ae->{port}, host => $host);
    return http(port => $ae->{port}, host => $host, path => $path);
}

my $html = '/account.php/x.css?type=' . query_escape('text/html; charset=utf-8');
my $r = twice('checked.test', $html);
is($r->{headers}{'x-cache'}, 'MISS', 'an HTML page at a .css URL is not stored');
like($r->{headers}{'cache-status'}, qr/detail=content-type-mismatch/, 'Cache-Status says why');
is(twice('checked.test', '/style.css?type=text/css')->{headers}{'x-cache'}, 'HIT', 'a stylesheet at .css: stored');
is(twice('checked.test', '/logo.PNG?type=image/png')->{headers}{'x-cache'}, 'HIT', 'an image at .PNG: stored');
is(twice('checked.test', '/app.js?type=' . query_escape('text/javascript; charset=utf-8'))->{headers}{'x-cache'}, 'HIT',
   'a script with parameters in its type: stored');
is(twice('checked.test', '/page?type=text/html')->{headers}{'x-cache'}, 'HIT', 'no extension: not checked, stored');
is(twice('checked.test', '/dir.css/page?type=text/html')->{headers}{'x-cache'}, 'HIT', 'an extension in a directory name does not count');
is(twice('plain.test', $html)->{headers}{'x-cache'}, 'HIT', 'without cache.content-type-check the extension plays no part');

done_testing();
