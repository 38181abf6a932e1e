package discover

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// providerColour tells providers apart at a glance; every box also carries
// the provider's name, so colour is never the only signal.
var providerColour = map[string]string{
	"AWS": "#ff9900", "GCP": "#4285f4", "Azure": "#0078d4", "Cloudflare": "#f38020", "Fastly": "#e5242c", "Akamai": "#009bde",
}

// WriteSVG draws the map: one box per provider and region, largest first,
// listing its names with the CNAMEs they go through (VIA) and, marked in
// red with a word, the names whose queries failed.
func (m Map) WriteSVG(w io.Writer) error {
	const width, lineHeight, pad, viaX, failX = 1200, 18, 12, 480, 1020
	byGroup := map[[2]string][]Dependency{}
	for _, d := range m.Dependencies {
		k := [2]string{d.Provider, d.Region}
		byGroup[k] = append(byGroup[k], d)
	}
	height := 70
	for _, g := range m.Groups {
		height += 40 + lineHeight*len(byGroup[[2]string{g.Provider, g.Region}]) + pad
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" role="img" aria-label="%s">`+"\n",
		width, height, width, height, html.EscapeString(m.Summary))
	fmt.Fprintf(&b, `<title>DNS dependencies: %s</title>`+"\n", html.EscapeString(m.Summary))
	fmt.Fprintf(&b, `<text x="%d" y="36" font-size="22" font-weight="bold">%s</text>`+"\n", pad, html.EscapeString(m.Summary))
	y := 60
	for _, g := range m.Groups {
		colour, ok := providerColour[g.Provider]
		if !ok {
			colour = "#888888"
		}
		deps := byGroup[[2]string{g.Provider, g.Region}]
		boxHeight := 30 + lineHeight*len(deps)
		title := g.Provider
		if g.Region != "" {
			title += " · " + g.Region
		}
		title += fmt.Sprintf(" (%d)", len(g.Names))
		fmt.Fprintf(&b, `<g class="group" data-provider="%s" data-region="%s">`+"\n", html.EscapeString(g.Provider), html.EscapeString(g.Region))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" fill-opacity="0.15" stroke="%s" stroke-width="2"/>`+"\n", pad, y, width-2*pad, boxHeight, colour, colour)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="16" font-weight="bold">%s</text>`+"\n", 2*pad, y+20, html.EscapeString(title))
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" fill="#555">VIA (CNAME)</text>`+"\n", viaX, y+20)
		for i, d := range deps {
			line := y + 20 + lineHeight*(i+1)
			fmt.Fprintf(&b, `<text class="name" x="%d" y="%d" font-size="14" font-family="monospace">%s</text>`+"\n", 3*pad, line, html.EscapeString(strings.TrimSuffix(d.Name, ".")))
			if len(d.Chain) > 0 {
				var via []string
				for _, c := range d.Chain {
					via = append(via, strings.TrimSuffix(c, "."))
				}
				fmt.Fprintf(&b, `<text class="via" x="%d" y="%d" font-size="13" font-family="monospace">→ %s</text>`+"\n", viaX, line, html.EscapeString(strings.Join(via, " → ")))
			}
			if d.Failures > 0 {
				fmt.Fprintf(&b, `<text class="failed" x="%d" y="%d" font-size="13" font-weight="bold" fill="#c00000">✗ %d of %d failed</text>`+"\n", failX, line, d.Failures, d.Queries)
			}
		}
		b.WriteString("</g>\n")
		y += boxHeight + pad
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
