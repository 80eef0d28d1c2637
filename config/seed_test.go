package config

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/openmmp/mmp/param"
)

// The Sun Administration Reference prints its EhloKeywords example with a
// blank after the colon, "default: EhloKeywords TURN"; a site that copied
// it, into SmtpProxyAService.cfg or in the same form into vdmap, must
// load without a problem.
func TestSeedBlankAfterSection(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "AService.cfg", "default:ServiceList SmtpProxyAService@25 PopProxyAService@110\n")
	write(t, dir, "SmtpProxyAService.cfg", "default:SmtpRelays sesta:485 gonzo mothra\n"+
		"default:SmtpProxyPassword password\n"+
		"default: EhloKeywords TURN\n")
	write(t, dir, "PopProxyAService.cfg", "default:VirtualDomainFile vdmap.cfg\n")
	write(t, dir, "vdmap.cfg", "vdmap siroe 192.168.10.5\nsiroe: DefaultDomain siroe.com\n")
	inst, problems := Load(dir, Options{})
	if len(problems) > 0 {
		t.Fatalf("problems:\n%v", problems.Err(Warning))
	}
	smtp, pop := inst.Services[0], inst.Services[1]
	if got := Get(smtp.Values, param.EhloKeywords); !slices.Equal(got, []string{"TURN"}) {
		t.Errorf("EhloKeywords = %q, want [TURN]", got)
	}
	if o := smtp.Values.Origin(param.EhloKeywords.Param); o.String() != "SmtpProxyAService.cfg:3" {
		t.Errorf("EhloKeywords origin = %s", o)
	}
	siroe := pop.ForLocal(netip.MustParseAddr("192.168.10.5"))
	if got := Get(siroe, param.DefaultDomain); got != "siroe.com" {
		t.Errorf("vdmap siroe DefaultDomain = %q, want siroe.com", got)
	}
}
