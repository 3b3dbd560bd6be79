package headers

// Distinguished names in mod_ssl's two formats, byte for byte as OpenSSL
// prints them: RFC 2253 (X509_NAME_print_ex with XN_FLAG_RFC2253 minus
// ASN1_STRFLGS_ESC_MSB, Apache 2.4's default) and the legacy one-line form
// (X509_NAME_oneline, Apache 2.2 and 2.4's +LegacyDNStringFormat). The name
// is parsed from its DER so that string types, multi-valued RDNs and
// unknown attributes print as OpenSSL prints them.

import (
	"encoding/asn1"
	"errors"
	"strconv"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// attribute is one AttributeTypeAndValue of a name.
type attribute struct {
	oid  string // dotted
	set  int    // index of the RDN (SET) it belongs to
	tag  uint8  // universal tag of the value (12 UTF8String, 19 PrintableString, ...)
	data []byte // value contents
	der  []byte // the whole value, tag and length included
}

// parseName parses a DER Name (RDNSequence) into its attributes in order.
func parseName(der []byte) ([]attribute, error) {
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("malformed name")
	}
	var out []attribute
	for set := 0; !seq.Empty(); set++ {
		var rdn cryptobyte.String
		if !seq.ReadASN1(&rdn, cbasn1.SET) {
			return nil, errors.New("malformed RDN")
		}
		for !rdn.Empty() {
			var atv, data cryptobyte.String
			var oid asn1.ObjectIdentifier
			var tag cbasn1.Tag
			if !rdn.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1ObjectIdentifier(&oid) {
				return nil, errors.New("malformed attribute")
			}
			elem := []byte(atv)
			if !atv.ReadAnyASN1(&data, &tag) || !atv.Empty() {
				return nil, errors.New("malformed attribute value")
			}
			t := uint8(tag)
			if tag&0xe0 != 0 { // constructed, or not a universal tag: no string type
				t = tagUnknownStr
			}
			if t == 3 && len(data) > 0 { // BIT STRING: OpenSSL keeps the bits, not the unused-bits count
				data = data[1:]
			}
			out = append(out, attribute{oid: oid.String(), set: set, tag: t, data: data, der: elem})
		}
	}
	return out, nil
}

// shortNames are OpenSSL's short names (OBJ_nid2sn) of the attribute types
// found in names. An OID OpenSSL does not know prints as its dotted form
// with the value dumped as #hex DER (RFC 2253) or as its bytes (one-line).
var shortNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C",
	"2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.9": "street", "2.5.4.10": "O",
	"2.5.4.11": "OU", "2.5.4.12": "title", "2.5.4.13": "description",
	"2.5.4.14": "searchGuide", "2.5.4.15": "businessCategory", "2.5.4.16": "postalAddress",
	"2.5.4.17": "postalCode", "2.5.4.18": "postOfficeBox", "2.5.4.19": "physicalDeliveryOfficeName",
	"2.5.4.20": "telephoneNumber", "2.5.4.21": "telexNumber", "2.5.4.22": "teletexTerminalIdentifier",
	"2.5.4.23": "facsimileTelephoneNumber", "2.5.4.24": "x121Address", "2.5.4.25": "internationaliSDNNumber",
	"2.5.4.26": "registeredAddress", "2.5.4.27": "destinationIndicator", "2.5.4.28": "preferredDeliveryMethod",
	"2.5.4.29": "presentationAddress", "2.5.4.30": "supportedApplicationContext", "2.5.4.31": "member",
	"2.5.4.32": "owner", "2.5.4.33": "roleOccupant", "2.5.4.34": "seeAlso", "2.5.4.35": "userPassword",
	"2.5.4.36": "userCertificate", "2.5.4.37": "cACertificate", "2.5.4.38": "authorityRevocationList",
	"2.5.4.39": "certificateRevocationList", "2.5.4.40": "crossCertificatePair", "2.5.4.41": "name",
	"2.5.4.42": "GN", "2.5.4.43": "initials", "2.5.4.44": "generationQualifier",
	"2.5.4.45": "x500UniqueIdentifier", "2.5.4.46": "dnQualifier", "2.5.4.47": "enhancedSearchGuide",
	"2.5.4.48": "protocolInformation", "2.5.4.49": "distinguishedName", "2.5.4.50": "uniqueMember",
	"2.5.4.51": "houseIdentifier", "2.5.4.52": "supportedAlgorithms", "2.5.4.53": "deltaRevocationList",
	"2.5.4.54": "dmdName", "2.5.4.65": "pseudonym", "2.5.4.72": "role", "2.5.4.97": "organizationIdentifier",
	"2.5.4.98": "c3", "2.5.4.99": "n3",
	"1.2.840.113549.1.9.1": "emailAddress", "1.2.840.113549.1.9.2": "unstructuredName",
	"1.2.840.113549.1.9.8":      "unstructuredAddress",
	"0.9.2342.19200300.100.1.1": "UID", "0.9.2342.19200300.100.1.3": "mail",
	"0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.44": "uid",
	"1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL", "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
	"1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
}

// Character classes of OpenSSL's char_type table (crypto/asn1/charmap.h)
// that RFC 2253 printing uses.
const (
	escCtrl  = 1 << iota // escaped as \XX
	escBS                // escaped with a backslash: , + " \ < > ;
	escFirst             // escaped with a backslash when first: space, #
	escLast              // escaped with a backslash when last: space
)

func charClass(c byte) uint8 {
	switch {
	case c < 0x20 || c == 0x7f:
		return escCtrl
	case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';':
		return escBS
	case c == ' ':
		return escFirst | escLast
	case c == '#':
		return escFirst
	}
	return 0
}

// Universal tags of the string types OpenSSL decodes (tag2nbyte).
const (
	tagUTF8       = 12
	tagNumeric    = 18
	tagPrintable  = 19
	tagT61        = 20
	tagIA5        = 22
	tagUTCTime    = 23
	tagGenTime    = 24
	tagISO64      = 26
	tagUniversal  = 28
	tagBMP        = 30
	tagUnknownStr = 0xff
)

// charWidth is OpenSSL's tag2nbyte: bytes per character of a string type,
// 0 for UTF8String, -1 for types it dumps.
func charWidth(tag uint8) int {
	switch tag {
	case tagUTF8:
		return 0
	case tagNumeric, tagPrintable, tagT61, tagIA5, tagUTCTime, tagGenTime, tagISO64:
		return 1
	case tagUniversal:
		return 4
	case tagBMP:
		return 2
	}
	return -1
}

// stringFlags select the escaping of appendString.
type stringFlags struct {
	esc2253 bool // RFC 2253 specials and first/last characters
	escMSB  bool // bytes above 0x7f as \XX
	dump    bool // unknown string types as #hex of the DER
}

// appendString appends a's value as ASN1_STRING_print_ex does with
// ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT and f.
func appendString(b []byte, a attribute, f stringFlags) []byte {
	w := charWidth(a.tag)
	if w < 0 {
		if f.dump {
			return appendHexDump(b, a.der)
		}
		w = 1
	}
	if w == 0 {
		w = 1 // UTF8String to UTF-8: print its bytes as they are
	}
	var chars []rune
	switch w {
	case 1:
		chars = make([]rune, len(a.data))
		for i, c := range a.data {
			chars[i] = rune(c)
		}
	case 2:
		if len(a.data)%2 != 0 {
			return b
		}
		for i := 0; i < len(a.data); i += 2 {
			chars = append(chars, rune(a.data[i])<<8|rune(a.data[i+1]))
		}
	case 4:
		if len(a.data)%4 != 0 {
			return b
		}
		for i := 0; i < len(a.data); i += 4 {
			chars = append(chars, rune(a.data[i])<<24|rune(a.data[i+1])<<16|rune(a.data[i+2])<<8|rune(a.data[i+3]))
		}
	}
	// Every type but UTF8String is converted to UTF-8 (Latin-1 for the
	// one-byte types, OpenSSL's reading of T61String included).
	utf8Convert := a.tag != tagUTF8
	for i, c := range chars {
		var orFlags uint8
		if i == 0 {
			orFlags |= escFirst
		}
		if i == len(chars)-1 {
			orFlags |= escLast
		}
		if !utf8Convert {
			b = appendEscChar(b, byte(c), orFlags, f)
			continue
		}
		var buf [utf8.UTFMax]byte
		n := utf8.EncodeRune(buf[:], c)
		if c > utf8.MaxRune || (c >= 0xd800 && c < 0xe000) {
			n = putUTF8Raw(buf[:], c) // OpenSSL's UTF8_putc encodes surrogates too
		}
		for _, x := range buf[:n] {
			b = appendEscChar(b, x, orFlags, f)
		}
	}
	return b
}

// putUTF8Raw encodes c as UTF-8 without Go's replacement of invalid runes.
func putUTF8Raw(buf []byte, c rune) int {
	switch {
	case c < 0x800:
		buf[0], buf[1] = 0xc0|byte(c>>6), 0x80|byte(c&0x3f)
		return 2
	case c < 0x10000:
		buf[0], buf[1], buf[2] = 0xe0|byte(c>>12), 0x80|byte(c>>6&0x3f), 0x80|byte(c&0x3f)
		return 3
	}
	buf[0], buf[1], buf[2], buf[3] = 0xf0|byte(c>>18), 0x80|byte(c>>12&0x3f), 0x80|byte(c>>6&0x3f), 0x80|byte(c&0x3f)
	return 4
}

const hexUpper = "0123456789ABCDEF"

// appendEscChar is OpenSSL's do_esc_char for one byte.
func appendEscChar(b []byte, c byte, orFlags uint8, f stringFlags) []byte {
	if c > 0x7f {
		if f.escMSB {
			return append(b, '\\', hexUpper[c>>4], hexUpper[c&15])
		}
		return append(b, c)
	}
	cl := charClass(c)
	if f.esc2253 && (cl&escBS != 0 || cl&orFlags&(escFirst|escLast) != 0) {
		return append(b, '\\', c)
	}
	if cl&escCtrl != 0 {
		return append(b, '\\', hexUpper[c>>4], hexUpper[c&15])
	}
	if c == '\\' {
		return append(b, '\\', '\\') // escaping is on (ESC_CTRL), so the escape character is escaped
	}
	return append(b, c)
}

func appendHexDump(b, der []byte) []byte {
	b = append(b, '#')
	for _, c := range der {
		b = append(b, hexUpper[c>>4], hexUpper[c&15])
	}
	return b
}

// formatRFC2253 prints attrs as X509_NAME_print_ex(XN_FLAG_RFC2253 with
// escMSB as given): last attribute first, "+" inside an RDN, "," between.
func formatRFC2253(attrs []attribute, escMSB bool) string {
	var b []byte
	f := stringFlags{esc2253: true, escMSB: escMSB, dump: true}
	for i := len(attrs) - 1; i >= 0; i-- {
		a := attrs[i]
		if i < len(attrs)-1 {
			if attrs[i+1].set == a.set {
				b = append(b, '+')
			} else {
				b = append(b, ',')
			}
		}
		name, known := shortNames[a.oid]
		if !known {
			name = a.oid
		}
		b = append(b, name...)
		b = append(b, '=')
		if !known {
			b = appendHexDump(b, a.der)
			continue
		}
		b = appendString(b, a, f)
	}
	return string(b)
}

// formatOneline prints attrs as X509_NAME_oneline: "/" before each RDN, "+"
// inside one, the value's bytes with "/" and "+" escaped by a backslash
// and bytes outside ' '..'~' as \xHH.
func formatOneline(attrs []attribute) string {
	var b []byte
	for i, a := range attrs {
		if i > 0 && attrs[i-1].set == a.set {
			b = append(b, '+')
		} else {
			b = append(b, '/')
		}
		name, ok := shortNames[a.oid]
		if !ok {
			name = a.oid
		}
		b = append(b, name...)
		b = append(b, '=')
		data := a.data
		skip := [4]bool{}
		if a.tag == 27 && len(data)%4 == 0 { // GeneralString holding UCS-4 Latin-1: keep every 4th byte
			var nz [4]bool
			for j, c := range data {
				if c != 0 {
					nz[j&3] = true
				}
			}
			if !nz[0] && !nz[1] && !nz[2] {
				skip = [4]bool{true, true, true, false}
			}
		}
		for j, c := range data {
			if skip[j&3] {
				continue
			}
			switch {
			case c < ' ' || c > '~':
				b = append(b, '\\', 'x', hexUpper[c>>4], hexUpper[c&15])
			case c == '/' || c == '+':
				b = append(b, '\\', c)
			default:
				b = append(b, c)
			}
		}
	}
	return string(b)
}

// formatComponent prints one attribute value as mod_ssl's SSL_*_DN_x
// variables do (ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT).
func formatComponent(a attribute) string {
	return string(appendString(nil, a, stringFlags{}))
}

// dnComponents are mod_ssl's names for the attributes it exports as
// SSL_{CLIENT,SERVER}_{S,I}_DN_<name>, in its table's order.
var dnComponents = []struct{ name, oid string }{
	{"C", "2.5.4.6"}, {"ST", "2.5.4.8"}, {"L", "2.5.4.7"}, {"O", "2.5.4.10"},
	{"OU", "2.5.4.11"}, {"CN", "2.5.4.3"}, {"T", "2.5.4.12"}, {"I", "2.5.4.43"},
	{"G", "2.5.4.42"}, {"S", "2.5.4.4"}, {"D", "2.5.4.13"}, {"UID", "0.9.2342.19200300.100.1.1"},
	{"Email", "1.2.840.113549.1.9.1"},
}

// appendDNComponents appends prefix+name (and prefix+name+"_N" for the
// N+1-th repeat) for every exported attribute of attrs, as mod_ssl's
// extract_dn does.
func appendDNComponents(vars []SSLVar, prefix string, attrs []attribute) []SSLVar {
	seen := map[string]int{}
	for _, a := range attrs {
		var tag string
		for _, c := range dnComponents {
			if c.oid == a.oid {
				tag = c.name
				break
			}
		}
		if tag == "" {
			continue
		}
		name := prefix + tag
		if n, dup := seen[a.oid]; dup {
			name += "_" + strconv.Itoa(n+1)
			seen[a.oid] = n + 1
		} else {
			seen[a.oid] = 0
		}
		vars = append(vars, SSLVar{Name: name, Value: formatComponent(a)})
	}
	return vars
}

// FormatDN formats a DER distinguished name (a certificate's RawSubject or
// RawIssuer) as mod_ssl's SSL_CLIENT_S_DN: RFC 2253 (Apache 2.4's default),
// or with legacy the one-line /C=../CN=.. form (Apache 2.2, and 2.4's
// SSLOptions +LegacyDNStringFormat). A name that does not parse gives "".
func FormatDN(der []byte, legacy bool) string {
	attrs, err := parseName(der)
	if err != nil {
		return ""
	}
	if legacy {
		return formatOneline(attrs)
	}
	return formatRFC2253(attrs, false)
}
