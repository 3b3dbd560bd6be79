package tlsconf

import "strings"

// This file holds OpenSSL 3.0's TLS ≤ 1.2 cipher-suite table and cipher-string
// aliases, transcribed from ssl/s3_lib.c (ssl3_ciphers) and ssl/ssl_ciph.c
// (cipher_aliases) of OpenSSL 3.0. The rows for suites Debian's build has were
// checked against `openssl ciphers -V` on Debian 12 (OpenSSL 3.0.19); the rows
// Debian compiles out (RC4, 3DES, IDEA, SEED: no-weak-ssl-ciphers and the legacy
// provider) come from the source. GOST suites are left out: stock OpenSSL 3.0
// only has them with the external GOST engine, and without it their aliases
// select nothing, which is what the GOST aliases below do.

// Key-exchange bits (algorithm_mkey).
const (
	csKRSA uint32 = 1 << iota
	csKDHE
	csKECDHE
	csKPSK
	csKRSAPSK
	csKECDHEPSK
	csKDHEPSK
	csKSRP
	csKGOST

	csKAnyPSK = csKPSK | csKRSAPSK | csKECDHEPSK | csKDHEPSK
)

// Authentication bits (algorithm_auth).
const (
	csARSA uint32 = 1 << iota
	csADSS
	csANULL
	csAECDSA
	csAPSK
	csASRP
	csAGOST01
	csAGOST12
)

// Bulk-cipher bits (algorithm_enc).
const (
	csDES uint32 = 1 << iota
	cs3DES
	csRC4
	csRC2
	csIDEA
	csENULL
	csAES128
	csAES256
	csCAMELLIA128
	csCAMELLIA256
	csGOST89
	csSEED
	csAES128GCM
	csAES256GCM
	csAES128CCM
	csAES256CCM
	csAES128CCM8
	csAES256CCM8
	csGOST8912
	csCHACHA20
	csARIA128GCM
	csARIA256GCM

	csAESGCM   = csAES128GCM | csAES256GCM
	csAESCCM   = csAES128CCM | csAES256CCM | csAES128CCM8 | csAES256CCM8
	csAES      = csAES128 | csAES256 | csAESGCM | csAESCCM
	csCAMELLIA = csCAMELLIA128 | csCAMELLIA256
	csARIA     = csARIA128GCM | csARIA256GCM
	csCBC      = csDES | cs3DES | csRC2 | csIDEA | csAES128 | csAES256 | csCAMELLIA | csSEED
)

// MAC bits (algorithm_mac).
const (
	csMD5 uint32 = 1 << iota
	csSHA1
	csGOST94
	csGOST89MAC
	csSHA256
	csSHA384
	csAEAD
	csGOST12
	csGOST89MAC12
)

// Strength bits (algo_strength). As in OpenSSL, csStrongMask covers
// STRONG_NONE..FIPS and csDefaultMask covers NOT_DEFAULT; a pattern matches
// a suite when it shares a bit with it in each mask the pattern uses.
const (
	csSTRONGNONE uint32 = 1 << iota
	csLOW
	csMEDIUM
	csHIGH
	csFIPS
	csNOTDEFAULT

	csStrongMask  = csSTRONGNONE | csLOW | csMEDIUM | csHIGH | csFIPS
	csDefaultMask = csNOTDEFAULT
)

// Minimum protocol versions (min_tls).
const (
	csSSL3  uint16 = 0x0300
	csTLS1  uint16 = 0x0301
	csTLS12 uint16 = 0x0303
)

// csSuite is one row of ssl3_ciphers.
type csSuite struct {
	id       uint16
	name     string // OpenSSL name
	mkey     uint32
	auth     uint32
	enc      uint32
	mac      uint32
	minTLS   uint16
	strength uint32
	bits     int // strength_bits, the key for @STRENGTH
}

// csSuites lists every TLS ≤ 1.2 suite of OpenSSL 3.0 (without GOST), sorted
// by ID as ssl_sort_cipher_list sorts ssl3_ciphers.
var csSuites = []csSuite{
	{0x0001, "NULL-MD5", csKRSA, csARSA, csENULL, csMD5, csSSL3, csSTRONGNONE, 0},
	{0x0002, "NULL-SHA", csKRSA, csARSA, csENULL, csSHA1, csSSL3, csSTRONGNONE, 0},
	{0x0004, "RC4-MD5", csKRSA, csARSA, csRC4, csMD5, csSSL3, csMEDIUM | csNOTDEFAULT, 128},
	{0x0005, "RC4-SHA", csKRSA, csARSA, csRC4, csSHA1, csSSL3, csMEDIUM | csNOTDEFAULT, 128},
	{0x0007, "IDEA-CBC-SHA", csKRSA, csARSA, csIDEA, csSHA1, csSSL3, csMEDIUM | csNOTDEFAULT, 128},
	{0x000A, "DES-CBC3-SHA", csKRSA, csARSA, cs3DES, csSHA1, csSSL3, csMEDIUM | csFIPS | csNOTDEFAULT, 112},
	{0x0013, "DHE-DSS-DES-CBC3-SHA", csKDHE, csADSS, cs3DES, csSHA1, csSSL3, csMEDIUM | csFIPS | csNOTDEFAULT, 112},
	{0x0016, "DHE-RSA-DES-CBC3-SHA", csKDHE, csARSA, cs3DES, csSHA1, csSSL3, csMEDIUM | csFIPS | csNOTDEFAULT, 112},
	{0x0018, "ADH-RC4-MD5", csKDHE, csANULL, csRC4, csMD5, csSSL3, csMEDIUM | csNOTDEFAULT, 128},
	{0x001B, "ADH-DES-CBC3-SHA", csKDHE, csANULL, cs3DES, csSHA1, csSSL3, csMEDIUM | csFIPS | csNOTDEFAULT, 112},
	{0x002C, "PSK-NULL-SHA", csKPSK, csAPSK, csENULL, csSHA1, csSSL3, csSTRONGNONE, 0},
	{0x002D, "DHE-PSK-NULL-SHA", csKDHEPSK, csAPSK, csENULL, csSHA1, csSSL3, csSTRONGNONE, 0},
	{0x002E, "RSA-PSK-NULL-SHA", csKRSAPSK, csARSA, csENULL, csSHA1, csSSL3, csSTRONGNONE, 0},
	{0x002F, "AES128-SHA", csKRSA, csARSA, csAES128, csSHA1, csSSL3, csHIGH | csFIPS, 128},
	{0x0032, "DHE-DSS-AES128-SHA", csKDHE, csADSS, csAES128, csSHA1, csSSL3, csHIGH | csFIPS | csNOTDEFAULT, 128},
	{0x0033, "DHE-RSA-AES128-SHA", csKDHE, csARSA, csAES128, csSHA1, csSSL3, csHIGH | csFIPS, 128},
	{0x0034, "ADH-AES128-SHA", csKDHE, csANULL, csAES128, csSHA1, csSSL3, csHIGH | csFIPS | csNOTDEFAULT, 128},
	{0x0035, "AES256-SHA", csKRSA, csARSA, csAES256, csSHA1, csSSL3, csHIGH | csFIPS, 256},
	{0x0038, "DHE-DSS-AES256-SHA", csKDHE, csADSS, csAES256, csSHA1, csSSL3, csHIGH | csFIPS | csNOTDEFAULT, 256},
	{0x0039, "DHE-RSA-AES256-SHA", csKDHE, csARSA, csAES256, csSHA1, csSSL3, csHIGH | csFIPS, 256},
	{0x003A, "ADH-AES256-SHA", csKDHE, csANULL, csAES256, csSHA1, csSSL3, csHIGH | csFIPS | csNOTDEFAULT, 256},
	{0x003B, "NULL-SHA256", csKRSA, csARSA, csENULL, csSHA256, csTLS12, csSTRONGNONE, 0},
	{0x003C, "AES128-SHA256", csKRSA, csARSA, csAES128, csSHA256, csTLS12, csHIGH | csFIPS, 128},
	{0x003D, "AES256-SHA256", csKRSA, csARSA, csAES256, csSHA256, csTLS12, csHIGH | csFIPS, 256},
	{0x0040, "DHE-DSS-AES128-SHA256", csKDHE, csADSS, csAES128, csSHA256, csTLS12, csHIGH | csFIPS | csNOTDEFAULT, 128},
	{0x0041, "CAMELLIA128-SHA", csKRSA, csARSA, csCAMELLIA128, csSHA1, csSSL3, csHIGH | csNOTDEFAULT, 128},
	{0x0044, "DHE-DSS-CAMELLIA128-SHA", csKDHE, csADSS, csCAMELLIA128, csSHA1, csSSL3, csHIGH | csNOTDEFAULT, 128},
	{0x0045, "DHE-RSA-CAMELLIA128-SHA", csKDHE, csARSA, csCAMELLIA128, csSHA1, csSSL3, csHIGH | csNOTDEFAULT, 128},
	{0x0046, "ADH-CAMELLIA128-SHA", csKDHE, csANULL, csCAMELLIA128, csSHA1, csSSL3, csHIGH | csNOTDEFAULT, 128},
	{0x0067, "DHE-RSA-AES128-SHA256", csKDHE, csARSA, csAES128, csSHA256, csTLS12, csHIGH | csFIPS, 128},
	{0x006A, "DHE-DSS-AES256-SHA256", csKDHE, csADSS, csAES256, csSHA256, csTLS12, csHIGH | csFIPS | csNOTDEFAULT, 256},
	{0x006B, "DHE-RSA-AES256-SHA256", csKDHE, csARSA, csAES256, csSHA256, csTLS12, csHIGH | csFIPS, 256},
	{0x006C, "ADH-AES128-SHA256", csKDHE, csANULL, csAES128, csSHA256, csTLS12, csHIGH | csFIPS | csNOTDEFAULT, 128},
	{0x006D, "ADH-AES256-SHA256", csKDHE, csANULL, csAES256, csSHA256, csTLS12, csHIGH | csFIPS | csNOTDEFAULT, 256},
	{0x0084, "CAMELLIA256-SHA", csKRSA, csARSA, csCAMELLIA256, csSHA1, csSSL3, csHIGH | csNOTDEFAULT, 256},
	{0x0087, "DHE-DSS-CAMELLIA256-SHA", csKDHE, csADSS, csCAMELLIA256, csSHA1, csSSL3, csHIGH | csNOTDEFAULT, 256},
	{0x0088, "DHE-RSA-CAMELLIA256-SHA", csKDHE, csARSA, csCAMELLIA256, csSHA1, csSSL3, csHIGH | csNOTDEFAULT, 256},
	{0x0089, "ADH-CAMELLIA256-SHA", csKDHE, csANULL, csCAMELLIA256, csSHA1, csSSL3, csHIGH | csNOTDEFAULT, 256},
	{0x008A, "PSK-RC4-SHA", csKPSK, csAPSK, csRC4, csSHA1, csSSL3, csMEDIUM | csNOTDEFAULT, 128},
	{0x008B, "PSK-3DES-EDE-CBC-SHA", csKPSK, csAPSK, cs3DES, csSHA1, csSSL3, csMEDIUM | csFIPS | csNOTDEFAULT, 112},
	{0x008C, "PSK-AES128-CBC-SHA", csKPSK, csAPSK, csAES128, csSHA1, csSSL3, csHIGH | csFIPS, 128},
	{0x008D, "PSK-AES256-CBC-SHA", csKPSK, csAPSK, csAES256, csSHA1, csSSL3, csHIGH | csFIPS, 256},
	{0x008E, "DHE-PSK-RC4-SHA", csKDHEPSK, csAPSK, csRC4, csSHA1, csSSL3, csMEDIUM | csNOTDEFAULT, 128},
	{0x008F, "DHE-PSK-3DES-EDE-CBC-SHA", csKDHEPSK, csAPSK, cs3DES, csSHA1, csSSL3, csMEDIUM | csFIPS | csNOTDEFAULT, 112},
	{0x0090, "DHE-PSK-AES128-CBC-SHA", csKDHEPSK, csAPSK, csAES128, csSHA1, csSSL3, csHIGH | csFIPS, 128},
	{0x0091, "DHE-PSK-AES256-CBC-SHA", csKDHEPSK, csAPSK, csAES256, csSHA1, csSSL3, csHIGH | csFIPS, 256},
	{0x0092, "RSA-PSK-RC4-SHA", csKRSAPSK, csARSA, csRC4, csSHA1, csSSL3, csMEDIUM | csNOTDEFAULT, 128},
	{0x0093, "RSA-PSK-3DES-EDE-CBC-SHA", csKRSAPSK, csARSA, cs3DES, csSHA1, csSSL3, csMEDIUM | csFIPS | csNOTDEFAULT, 112},
	{0x0094, "RSA-PSK-AES128-CBC-SHA", csKRSAPSK, csARSA, csAES128, csSHA1, csSSL3, csHIGH | csFIPS, 128},
	{0x0095, "RSA-PSK-AES256-CBC-SHA", csKRSAPSK, csARSA, csAES256, csSHA1, csSSL3, csHIGH | csFIPS, 256},
	{0x0096, "SEED-SHA", csKRSA, csARSA, csSEED, csSHA1, csSSL3, csMEDIUM | csNOTDEFAULT, 128},
	{0x0099, "DHE-DSS-SEED-SHA", csKDHE, csADSS, csSEED, csSHA1, csSSL3, csMEDIUM | csNOTDEFAULT, 128},
	{0x009A, "DHE-RSA-SEED-SHA", csKDHE, csARSA, csSEED, csSHA1, csSSL3, csMEDIUM | csNOTDEFAULT, 128},
	{0x009B, "ADH-SEED-SHA", csKDHE, csANULL, csSEED, csSHA1, csSSL3, csMEDIUM | csNOTDEFAULT, 128},
	{0x009C, "AES128-GCM-SHA256", csKRSA, csARSA, csAES128GCM, csAEAD, csTLS12, csHIGH | csFIPS, 128},
	{0x009D, "AES256-GCM-SHA384", csKRSA, csARSA, csAES256GCM, csAEAD, csTLS12, csHIGH | csFIPS, 256},
	{0x009E, "DHE-RSA-AES128-GCM-SHA256", csKDHE, csARSA, csAES128GCM, csAEAD, csTLS12, csHIGH | csFIPS, 128},
	{0x009F, "DHE-RSA-AES256-GCM-SHA384", csKDHE, csARSA, csAES256GCM, csAEAD, csTLS12, csHIGH | csFIPS, 256},
	{0x00A2, "DHE-DSS-AES128-GCM-SHA256", csKDHE, csADSS, csAES128GCM, csAEAD, csTLS12, csHIGH | csFIPS | csNOTDEFAULT, 128},
	{0x00A3, "DHE-DSS-AES256-GCM-SHA384", csKDHE, csADSS, csAES256GCM, csAEAD, csTLS12, csHIGH | csFIPS | csNOTDEFAULT, 256},
	{0x00A6, "ADH-AES128-GCM-SHA256", csKDHE, csANULL, csAES128GCM, csAEAD, csTLS12, csHIGH | csFIPS | csNOTDEFAULT, 128},
	{0x00A7, "ADH-AES256-GCM-SHA384", csKDHE, csANULL, csAES256GCM, csAEAD, csTLS12, csHIGH | csFIPS | csNOTDEFAULT, 256},
	{0x00A8, "PSK-AES128-GCM-SHA256", csKPSK, csAPSK, csAES128GCM, csAEAD, csTLS12, csHIGH | csFIPS, 128},
	{0x00A9, "PSK-AES256-GCM-SHA384", csKPSK, csAPSK, csAES256GCM, csAEAD, csTLS12, csHIGH | csFIPS, 256},
	{0x00AA, "DHE-PSK-AES128-GCM-SHA256", csKDHEPSK, csAPSK, csAES128GCM, csAEAD, csTLS12, csHIGH | csFIPS, 128},
	{0x00AB, "DHE-PSK-AES256-GCM-SHA384", csKDHEPSK, csAPSK, csAES256GCM, csAEAD, csTLS12, csHIGH | csFIPS, 256},
	{0x00AC, "RSA-PSK-AES128-GCM-SHA256", csKRSAPSK, csARSA, csAES128GCM, csAEAD, csTLS12, csHIGH | csFIPS, 128},
	{0x00AD, "RSA-PSK-AES256-GCM-SHA384", csKRSAPSK, csARSA, csAES256GCM, csAEAD, csTLS12, csHIGH | csFIPS, 256},
	{0x00AE, "PSK-AES128-CBC-SHA256", csKPSK, csAPSK, csAES128, csSHA256, csTLS1, csHIGH | csFIPS, 128},
	{0x00AF, "PSK-AES256-CBC-SHA384", csKPSK, csAPSK, csAES256, csSHA384, csTLS1, csHIGH | csFIPS, 256},
	{0x00B0, "PSK-NULL-SHA256", csKPSK, csAPSK, csENULL, csSHA256, csTLS1, csSTRONGNONE, 0},
	{0x00B1, "PSK-NULL-SHA384", csKPSK, csAPSK, csENULL, csSHA384, csTLS1, csSTRONGNONE, 0},
	{0x00B2, "DHE-PSK-AES128-CBC-SHA256", csKDHEPSK, csAPSK, csAES128, csSHA256, csTLS1, csHIGH | csFIPS, 128},
	{0x00B3, "DHE-PSK-AES256-CBC-SHA384", csKDHEPSK, csAPSK, csAES256, csSHA384, csTLS1, csHIGH | csFIPS, 256},
	{0x00B4, "DHE-PSK-NULL-SHA256", csKDHEPSK, csAPSK, csENULL, csSHA256, csTLS1, csSTRONGNONE, 0},
	{0x00B5, "DHE-PSK-NULL-SHA384", csKDHEPSK, csAPSK, csENULL, csSHA384, csTLS1, csSTRONGNONE, 0},
	{0x00B6, "RSA-PSK-AES128-CBC-SHA256", csKRSAPSK, csARSA, csAES128, csSHA256, csTLS1, csHIGH | csFIPS, 128},
	{0x00B7, "RSA-PSK-AES256-CBC-SHA384", csKRSAPSK, csARSA, csAES256, csSHA384, csTLS1, csHIGH | csFIPS, 256},
	{0x00B8, "RSA-PSK-NULL-SHA256", csKRSAPSK, csARSA, csENULL, csSHA256, csTLS1, csSTRONGNONE, 0},
	{0x00B9, "RSA-PSK-NULL-SHA384", csKRSAPSK, csARSA, csENULL, csSHA384, csTLS1, csSTRONGNONE, 0},
	{0x00BA, "CAMELLIA128-SHA256", csKRSA, csARSA, csCAMELLIA128, csSHA256, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0x00BD, "DHE-DSS-CAMELLIA128-SHA256", csKDHE, csADSS, csCAMELLIA128, csSHA256, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0x00BE, "DHE-RSA-CAMELLIA128-SHA256", csKDHE, csARSA, csCAMELLIA128, csSHA256, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0x00BF, "ADH-CAMELLIA128-SHA256", csKDHE, csANULL, csCAMELLIA128, csSHA256, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0x00C0, "CAMELLIA256-SHA256", csKRSA, csARSA, csCAMELLIA256, csSHA256, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0x00C3, "DHE-DSS-CAMELLIA256-SHA256", csKDHE, csADSS, csCAMELLIA256, csSHA256, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0x00C4, "DHE-RSA-CAMELLIA256-SHA256", csKDHE, csARSA, csCAMELLIA256, csSHA256, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0x00C5, "ADH-CAMELLIA256-SHA256", csKDHE, csANULL, csCAMELLIA256, csSHA256, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC006, "ECDHE-ECDSA-NULL-SHA", csKECDHE, csAECDSA, csENULL, csSHA1, csTLS1, csSTRONGNONE, 0},
	{0xC007, "ECDHE-ECDSA-RC4-SHA", csKECDHE, csAECDSA, csRC4, csSHA1, csTLS1, csMEDIUM | csNOTDEFAULT, 128},
	{0xC008, "ECDHE-ECDSA-DES-CBC3-SHA", csKECDHE, csAECDSA, cs3DES, csSHA1, csTLS1, csMEDIUM | csFIPS | csNOTDEFAULT, 112},
	{0xC009, "ECDHE-ECDSA-AES128-SHA", csKECDHE, csAECDSA, csAES128, csSHA1, csTLS1, csHIGH | csFIPS, 128},
	{0xC00A, "ECDHE-ECDSA-AES256-SHA", csKECDHE, csAECDSA, csAES256, csSHA1, csTLS1, csHIGH | csFIPS, 256},
	{0xC010, "ECDHE-RSA-NULL-SHA", csKECDHE, csARSA, csENULL, csSHA1, csTLS1, csSTRONGNONE, 0},
	{0xC011, "ECDHE-RSA-RC4-SHA", csKECDHE, csARSA, csRC4, csSHA1, csTLS1, csMEDIUM | csNOTDEFAULT, 128},
	{0xC012, "ECDHE-RSA-DES-CBC3-SHA", csKECDHE, csARSA, cs3DES, csSHA1, csTLS1, csMEDIUM | csFIPS | csNOTDEFAULT, 112},
	{0xC013, "ECDHE-RSA-AES128-SHA", csKECDHE, csARSA, csAES128, csSHA1, csTLS1, csHIGH | csFIPS, 128},
	{0xC014, "ECDHE-RSA-AES256-SHA", csKECDHE, csARSA, csAES256, csSHA1, csTLS1, csHIGH | csFIPS, 256},
	{0xC015, "AECDH-NULL-SHA", csKECDHE, csANULL, csENULL, csSHA1, csTLS1, csSTRONGNONE, 0},
	{0xC016, "AECDH-RC4-SHA", csKECDHE, csANULL, csRC4, csSHA1, csTLS1, csMEDIUM | csNOTDEFAULT, 128},
	{0xC017, "AECDH-DES-CBC3-SHA", csKECDHE, csANULL, cs3DES, csSHA1, csTLS1, csMEDIUM | csFIPS | csNOTDEFAULT, 112},
	{0xC018, "AECDH-AES128-SHA", csKECDHE, csANULL, csAES128, csSHA1, csTLS1, csHIGH | csFIPS | csNOTDEFAULT, 128},
	{0xC019, "AECDH-AES256-SHA", csKECDHE, csANULL, csAES256, csSHA1, csTLS1, csHIGH | csFIPS | csNOTDEFAULT, 256},
	{0xC01A, "SRP-3DES-EDE-CBC-SHA", csKSRP, csASRP, cs3DES, csSHA1, csSSL3, csMEDIUM | csNOTDEFAULT, 112},
	{0xC01B, "SRP-RSA-3DES-EDE-CBC-SHA", csKSRP, csARSA, cs3DES, csSHA1, csSSL3, csMEDIUM | csNOTDEFAULT, 112},
	{0xC01C, "SRP-DSS-3DES-EDE-CBC-SHA", csKSRP, csADSS, cs3DES, csSHA1, csSSL3, csMEDIUM | csNOTDEFAULT, 112},
	{0xC01D, "SRP-AES-128-CBC-SHA", csKSRP, csASRP, csAES128, csSHA1, csSSL3, csHIGH, 128},
	{0xC01E, "SRP-RSA-AES-128-CBC-SHA", csKSRP, csARSA, csAES128, csSHA1, csSSL3, csHIGH, 128},
	{0xC01F, "SRP-DSS-AES-128-CBC-SHA", csKSRP, csADSS, csAES128, csSHA1, csSSL3, csHIGH | csNOTDEFAULT, 128},
	{0xC020, "SRP-AES-256-CBC-SHA", csKSRP, csASRP, csAES256, csSHA1, csSSL3, csHIGH, 256},
	{0xC021, "SRP-RSA-AES-256-CBC-SHA", csKSRP, csARSA, csAES256, csSHA1, csSSL3, csHIGH, 256},
	{0xC022, "SRP-DSS-AES-256-CBC-SHA", csKSRP, csADSS, csAES256, csSHA1, csSSL3, csHIGH | csNOTDEFAULT, 256},
	{0xC023, "ECDHE-ECDSA-AES128-SHA256", csKECDHE, csAECDSA, csAES128, csSHA256, csTLS12, csHIGH | csFIPS, 128},
	{0xC024, "ECDHE-ECDSA-AES256-SHA384", csKECDHE, csAECDSA, csAES256, csSHA384, csTLS12, csHIGH | csFIPS, 256},
	{0xC027, "ECDHE-RSA-AES128-SHA256", csKECDHE, csARSA, csAES128, csSHA256, csTLS12, csHIGH | csFIPS, 128},
	{0xC028, "ECDHE-RSA-AES256-SHA384", csKECDHE, csARSA, csAES256, csSHA384, csTLS12, csHIGH | csFIPS, 256},
	{0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256", csKECDHE, csAECDSA, csAES128GCM, csAEAD, csTLS12, csHIGH | csFIPS, 128},
	{0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384", csKECDHE, csAECDSA, csAES256GCM, csAEAD, csTLS12, csHIGH | csFIPS, 256},
	{0xC02F, "ECDHE-RSA-AES128-GCM-SHA256", csKECDHE, csARSA, csAES128GCM, csAEAD, csTLS12, csHIGH | csFIPS, 128},
	{0xC030, "ECDHE-RSA-AES256-GCM-SHA384", csKECDHE, csARSA, csAES256GCM, csAEAD, csTLS12, csHIGH | csFIPS, 256},
	{0xC033, "ECDHE-PSK-RC4-SHA", csKECDHEPSK, csAPSK, csRC4, csSHA1, csTLS1, csMEDIUM | csNOTDEFAULT, 128},
	{0xC034, "ECDHE-PSK-3DES-EDE-CBC-SHA", csKECDHEPSK, csAPSK, cs3DES, csSHA1, csTLS1, csMEDIUM | csFIPS | csNOTDEFAULT, 112},
	{0xC035, "ECDHE-PSK-AES128-CBC-SHA", csKECDHEPSK, csAPSK, csAES128, csSHA1, csTLS1, csHIGH | csFIPS, 128},
	{0xC036, "ECDHE-PSK-AES256-CBC-SHA", csKECDHEPSK, csAPSK, csAES256, csSHA1, csTLS1, csHIGH | csFIPS, 256},
	{0xC037, "ECDHE-PSK-AES128-CBC-SHA256", csKECDHEPSK, csAPSK, csAES128, csSHA256, csTLS1, csHIGH | csFIPS, 128},
	{0xC038, "ECDHE-PSK-AES256-CBC-SHA384", csKECDHEPSK, csAPSK, csAES256, csSHA384, csTLS1, csHIGH | csFIPS, 256},
	{0xC039, "ECDHE-PSK-NULL-SHA", csKECDHEPSK, csAPSK, csENULL, csSHA1, csTLS1, csSTRONGNONE, 0},
	{0xC03A, "ECDHE-PSK-NULL-SHA256", csKECDHEPSK, csAPSK, csENULL, csSHA256, csTLS1, csSTRONGNONE, 0},
	{0xC03B, "ECDHE-PSK-NULL-SHA384", csKECDHEPSK, csAPSK, csENULL, csSHA384, csTLS1, csSTRONGNONE, 0},
	{0xC050, "ARIA128-GCM-SHA256", csKRSA, csARSA, csARIA128GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC051, "ARIA256-GCM-SHA384", csKRSA, csARSA, csARIA256GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC052, "DHE-RSA-ARIA128-GCM-SHA256", csKDHE, csARSA, csARIA128GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC053, "DHE-RSA-ARIA256-GCM-SHA384", csKDHE, csARSA, csARIA256GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC056, "DHE-DSS-ARIA128-GCM-SHA256", csKDHE, csADSS, csARIA128GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC057, "DHE-DSS-ARIA256-GCM-SHA384", csKDHE, csADSS, csARIA256GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC05C, "ECDHE-ECDSA-ARIA128-GCM-SHA256", csKECDHE, csAECDSA, csARIA128GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC05D, "ECDHE-ECDSA-ARIA256-GCM-SHA384", csKECDHE, csAECDSA, csARIA256GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC060, "ECDHE-ARIA128-GCM-SHA256", csKECDHE, csARSA, csARIA128GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC061, "ECDHE-ARIA256-GCM-SHA384", csKECDHE, csARSA, csARIA256GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC06A, "PSK-ARIA128-GCM-SHA256", csKPSK, csAPSK, csARIA128GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC06B, "PSK-ARIA256-GCM-SHA384", csKPSK, csAPSK, csARIA256GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC06C, "DHE-PSK-ARIA128-GCM-SHA256", csKDHEPSK, csAPSK, csARIA128GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC06D, "DHE-PSK-ARIA256-GCM-SHA384", csKDHEPSK, csAPSK, csARIA256GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC06E, "RSA-PSK-ARIA128-GCM-SHA256", csKRSAPSK, csARSA, csARIA128GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC06F, "RSA-PSK-ARIA256-GCM-SHA384", csKRSAPSK, csARSA, csARIA256GCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC072, "ECDHE-ECDSA-CAMELLIA128-SHA256", csKECDHE, csAECDSA, csCAMELLIA128, csSHA256, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC073, "ECDHE-ECDSA-CAMELLIA256-SHA384", csKECDHE, csAECDSA, csCAMELLIA256, csSHA384, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC076, "ECDHE-RSA-CAMELLIA128-SHA256", csKECDHE, csARSA, csCAMELLIA128, csSHA256, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC077, "ECDHE-RSA-CAMELLIA256-SHA384", csKECDHE, csARSA, csCAMELLIA256, csSHA384, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC094, "PSK-CAMELLIA128-SHA256", csKPSK, csAPSK, csCAMELLIA128, csSHA256, csTLS1, csHIGH | csNOTDEFAULT, 128},
	{0xC095, "PSK-CAMELLIA256-SHA384", csKPSK, csAPSK, csCAMELLIA256, csSHA384, csTLS1, csHIGH | csNOTDEFAULT, 256},
	{0xC096, "DHE-PSK-CAMELLIA128-SHA256", csKDHEPSK, csAPSK, csCAMELLIA128, csSHA256, csTLS1, csHIGH | csNOTDEFAULT, 128},
	{0xC097, "DHE-PSK-CAMELLIA256-SHA384", csKDHEPSK, csAPSK, csCAMELLIA256, csSHA384, csTLS1, csHIGH | csNOTDEFAULT, 256},
	{0xC098, "RSA-PSK-CAMELLIA128-SHA256", csKRSAPSK, csARSA, csCAMELLIA128, csSHA256, csTLS1, csHIGH | csNOTDEFAULT, 128},
	{0xC099, "RSA-PSK-CAMELLIA256-SHA384", csKRSAPSK, csARSA, csCAMELLIA256, csSHA384, csTLS1, csHIGH | csNOTDEFAULT, 256},
	{0xC09A, "ECDHE-PSK-CAMELLIA128-SHA256", csKECDHEPSK, csAPSK, csCAMELLIA128, csSHA256, csTLS1, csHIGH | csNOTDEFAULT, 128},
	{0xC09B, "ECDHE-PSK-CAMELLIA256-SHA384", csKECDHEPSK, csAPSK, csCAMELLIA256, csSHA384, csTLS1, csHIGH | csNOTDEFAULT, 256},
	{0xC09C, "AES128-CCM", csKRSA, csARSA, csAES128CCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC09D, "AES256-CCM", csKRSA, csARSA, csAES256CCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC09E, "DHE-RSA-AES128-CCM", csKDHE, csARSA, csAES128CCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC09F, "DHE-RSA-AES256-CCM", csKDHE, csARSA, csAES256CCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC0A0, "AES128-CCM8", csKRSA, csARSA, csAES128CCM8, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC0A1, "AES256-CCM8", csKRSA, csARSA, csAES256CCM8, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC0A2, "DHE-RSA-AES128-CCM8", csKDHE, csARSA, csAES128CCM8, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC0A3, "DHE-RSA-AES256-CCM8", csKDHE, csARSA, csAES256CCM8, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC0A4, "PSK-AES128-CCM", csKPSK, csAPSK, csAES128CCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC0A5, "PSK-AES256-CCM", csKPSK, csAPSK, csAES256CCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC0A6, "DHE-PSK-AES128-CCM", csKDHEPSK, csAPSK, csAES128CCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC0A7, "DHE-PSK-AES256-CCM", csKDHEPSK, csAPSK, csAES256CCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC0A8, "PSK-AES128-CCM8", csKPSK, csAPSK, csAES128CCM8, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC0A9, "PSK-AES256-CCM8", csKPSK, csAPSK, csAES256CCM8, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC0AA, "DHE-PSK-AES128-CCM8", csKDHEPSK, csAPSK, csAES128CCM8, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC0AB, "DHE-PSK-AES256-CCM8", csKDHEPSK, csAPSK, csAES256CCM8, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC0AC, "ECDHE-ECDSA-AES128-CCM", csKECDHE, csAECDSA, csAES128CCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC0AD, "ECDHE-ECDSA-AES256-CCM", csKECDHE, csAECDSA, csAES256CCM, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xC0AE, "ECDHE-ECDSA-AES128-CCM8", csKECDHE, csAECDSA, csAES128CCM8, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 128},
	{0xC0AF, "ECDHE-ECDSA-AES256-CCM8", csKECDHE, csAECDSA, csAES256CCM8, csAEAD, csTLS12, csHIGH | csNOTDEFAULT, 256},
	{0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305", csKECDHE, csARSA, csCHACHA20, csAEAD, csTLS12, csHIGH, 256},
	{0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305", csKECDHE, csAECDSA, csCHACHA20, csAEAD, csTLS12, csHIGH, 256},
	{0xCCAA, "DHE-RSA-CHACHA20-POLY1305", csKDHE, csARSA, csCHACHA20, csAEAD, csTLS12, csHIGH, 256},
	{0xCCAB, "PSK-CHACHA20-POLY1305", csKPSK, csAPSK, csCHACHA20, csAEAD, csTLS12, csHIGH, 256},
	{0xCCAC, "ECDHE-PSK-CHACHA20-POLY1305", csKECDHEPSK, csAPSK, csCHACHA20, csAEAD, csTLS12, csHIGH, 256},
	{0xCCAD, "DHE-PSK-CHACHA20-POLY1305", csKDHEPSK, csAPSK, csCHACHA20, csAEAD, csTLS12, csHIGH, 256},
	{0xCCAE, "RSA-PSK-CHACHA20-POLY1305", csKRSAPSK, csARSA, csCHACHA20, csAEAD, csTLS12, csHIGH, 256},
}

// csAlias is one row of cipher_aliases: a pattern, not a suite.
type csAlias struct {
	name     string
	mkey     uint32
	auth     uint32
	enc      uint32
	mac      uint32
	minTLS   uint16
	strength uint32
}

// csAliases is OpenSSL 3.0's cipher_aliases table.
var csAliases = []csAlias{
	{name: "ALL", enc: ^csENULL}, // ALL does not include eNULL
	{name: "COMPLEMENTOFALL", enc: csENULL},
	{name: "COMPLEMENTOFDEFAULT", strength: csNOTDEFAULT},

	{name: "kRSA", mkey: csKRSA},
	{name: "kEDH", mkey: csKDHE},
	{name: "kDHE", mkey: csKDHE},
	{name: "DH", mkey: csKDHE},
	{name: "kEECDH", mkey: csKECDHE},
	{name: "kECDHE", mkey: csKECDHE},
	{name: "ECDH", mkey: csKECDHE},
	{name: "kPSK", mkey: csKPSK},
	{name: "kRSAPSK", mkey: csKRSAPSK},
	{name: "kECDHEPSK", mkey: csKECDHEPSK},
	{name: "kDHEPSK", mkey: csKDHEPSK},
	{name: "kSRP", mkey: csKSRP},
	{name: "kGOST", mkey: csKGOST},

	{name: "aRSA", auth: csARSA},
	{name: "aDSS", auth: csADSS},
	{name: "DSS", auth: csADSS},
	{name: "aNULL", auth: csANULL},
	{name: "aECDSA", auth: csAECDSA},
	{name: "ECDSA", auth: csAECDSA},
	{name: "aPSK", auth: csAPSK},
	{name: "aGOST01", auth: csAGOST01},
	{name: "aGOST12", auth: csAGOST12},
	{name: "aGOST", auth: csAGOST01 | csAGOST12},
	{name: "aSRP", auth: csASRP},

	{name: "EDH", mkey: csKDHE, auth: ^csANULL},
	{name: "DHE", mkey: csKDHE, auth: ^csANULL},
	{name: "EECDH", mkey: csKECDHE, auth: ^csANULL},
	{name: "ECDHE", mkey: csKECDHE, auth: ^csANULL},
	{name: "NULL", enc: csENULL},
	{name: "RSA", mkey: csKRSA, auth: csARSA},
	{name: "ADH", mkey: csKDHE, auth: csANULL},
	{name: "AECDH", mkey: csKECDHE, auth: csANULL},
	{name: "PSK", mkey: csKAnyPSK},
	{name: "SRP", mkey: csKSRP},

	{name: "3DES", enc: cs3DES},
	{name: "RC4", enc: csRC4},
	{name: "RC2", enc: csRC2},
	{name: "IDEA", enc: csIDEA},
	{name: "SEED", enc: csSEED},
	{name: "eNULL", enc: csENULL},
	{name: "GOST89", enc: csGOST89 | csGOST8912},
	{name: "AES128", enc: csAES128 | csAES128GCM | csAES128CCM | csAES128CCM8},
	{name: "AES256", enc: csAES256 | csAES256GCM | csAES256CCM | csAES256CCM8},
	{name: "AES", enc: csAES},
	{name: "AESGCM", enc: csAESGCM},
	{name: "AESCCM", enc: csAESCCM},
	{name: "AESCCM8", enc: csAES128CCM8 | csAES256CCM8},
	{name: "CAMELLIA128", enc: csCAMELLIA128},
	{name: "CAMELLIA256", enc: csCAMELLIA256},
	{name: "CAMELLIA", enc: csCAMELLIA},
	{name: "CHACHA20", enc: csCHACHA20},
	{name: "CBC", enc: csCBC},
	{name: "ARIA", enc: csARIA},
	{name: "ARIAGCM", enc: csARIA},
	{name: "ARIA128", enc: csARIA128GCM},
	{name: "ARIA256", enc: csARIA256GCM},

	{name: "MD5", mac: csMD5},
	{name: "SHA1", mac: csSHA1},
	{name: "SHA", mac: csSHA1},
	{name: "GOST94", mac: csGOST94},
	{name: "GOST89MAC", mac: csGOST89MAC | csGOST89MAC12},
	{name: "SHA256", mac: csSHA256},
	{name: "SHA384", mac: csSHA384},
	{name: "GOST12", mac: csGOST12},

	{name: "SSLv3", minTLS: csSSL3},
	{name: "TLSv1", minTLS: csTLS1},
	{name: "TLSv1.0", minTLS: csTLS1},
	{name: "TLSv1.2", minTLS: csTLS12},

	{name: "LOW", strength: csLOW},
	{name: "MEDIUM", strength: csMEDIUM},
	{name: "HIGH", strength: csHIGH},
	{name: "FIPS", enc: ^csENULL, strength: csFIPS},

	// "EDH-" spellings of the DHE 3DES suites, kept by OpenSSL for
	// backward compatibility (HIGH|FIPS: they match through the FIPS bit).
	{name: "EDH-DSS-DES-CBC3-SHA", mkey: csKDHE, auth: csADSS, enc: cs3DES, mac: csSHA1, strength: csHIGH | csFIPS},
	{name: "EDH-RSA-DES-CBC3-SHA", mkey: csKDHE, auth: csARSA, enc: cs3DES, mac: csSHA1, strength: csHIGH | csFIPS},
}

// csLegacyAliases are aliases OpenSSL 3.0 no longer has (it ignores them);
// tlsfront knows them so that old strings such as the tutorial's
// "!EXPORT:!DES" are not rejected as typos. They select nothing. A positive
// use of a forbidden one is still an error (see csForbiddenLegacy).
var csLegacyAliases = map[string]string{
	"EXPORT":   "EXPORT",
	"EXP":      "EXPORT",
	"EXPORT40": "EXPORT",
	"EXPORT56": "EXPORT",
	"DES":      "DES",
	"SSLv2":    "SSLv2",
	"kDH":      "static DH",
	"kDHr":     "static DH",
	"kDHd":     "static DH",
	"aDH":      "static DH",
	"kECDH":    "static ECDH",
	"kECDHr":   "static ECDH",
	"kECDHe":   "static ECDH",
	"aECDH":    "static ECDH",
	"KRB5":     "Kerberos",
	"kKRB5":    "Kerberos",
	"aKRB5":    "Kerberos",
	"FZA":      "Fortezza",
	"kFZA":     "Fortezza",
	"aFZA":     "Fortezza",
	"eFZA":     "Fortezza",
}

// csGoImplemented is the set of TLS ≤ 1.2 suites crypto/tls implements
// (cipher_suites.go: tls.CipherSuites plus tls.InsecureCipherSuites).
var csGoImplemented = map[uint16]bool{
	0x0005: true, // RC4-SHA (refused by policy)
	0x000A: true, // DES-CBC3-SHA
	0x002F: true, // AES128-SHA
	0x0035: true, // AES256-SHA
	0x003C: true, // AES128-SHA256
	0x009C: true, // AES128-GCM-SHA256
	0x009D: true, // AES256-GCM-SHA384
	0xC007: true, // ECDHE-ECDSA-RC4-SHA (refused by policy)
	0xC009: true, // ECDHE-ECDSA-AES128-SHA
	0xC00A: true, // ECDHE-ECDSA-AES256-SHA
	0xC011: true, // ECDHE-RSA-RC4-SHA (refused by policy)
	0xC012: true, // ECDHE-RSA-DES-CBC3-SHA
	0xC013: true, // ECDHE-RSA-AES128-SHA
	0xC014: true, // ECDHE-RSA-AES256-SHA
	0xC023: true, // ECDHE-ECDSA-AES128-SHA256
	0xC027: true, // ECDHE-RSA-AES128-SHA256
	0xC02B: true, // ECDHE-ECDSA-AES128-GCM-SHA256
	0xC02C: true, // ECDHE-ECDSA-AES256-GCM-SHA384
	0xC02F: true, // ECDHE-RSA-AES128-GCM-SHA256
	0xC030: true, // ECDHE-RSA-AES256-GCM-SHA384
	0xCCA8: true, // ECDHE-RSA-CHACHA20-POLY1305
	0xCCA9: true, // ECDHE-ECDSA-CHACHA20-POLY1305
}

// csDropReason says why tlsfront cannot offer a suite Go does not implement.
func csDropReason(s *csSuite) string {
	switch {
	case s.auth&csANULL != 0:
		return "anonymous (aNULL) key exchange: no server authentication"
	case s.enc&csENULL != 0:
		return "no encryption (eNULL)"
	case s.mkey&csKAnyPSK != 0:
		return "Go has no PSK cipher suites"
	case s.mkey&csKSRP != 0:
		return "Go has no SRP cipher suites"
	case s.mkey&csKDHE != 0:
		return "Go has no finite-field DHE"
	case s.enc&csCAMELLIA != 0:
		return "Go has no Camellia"
	case s.enc&csARIA != 0:
		return "Go has no ARIA"
	case s.enc&csAESCCM != 0:
		return "Go has no AES-CCM"
	case s.enc&csSEED != 0:
		return "Go has no SEED"
	case s.enc&csIDEA != 0:
		return "Go has no IDEA"
	case s.mac&csMD5 != 0:
		return "Go has no MD5-based suites"
	case s.mac&csSHA384 != 0 && s.enc&csCBC != 0:
		return "Go implements no CBC suite with SHA-384"
	case s.mac&csSHA256 != 0 && s.enc&csAES256 != 0:
		return "Go implements CBC with SHA-256 only for AES-128"
	case s.enc&cs3DES != 0:
		return "Go implements 3DES only with RSA authentication"
	}
	return "Go does not implement this suite"
}

// csLegacySuiteClass recognises suite names OpenSSL removed in 1.1.0.
func csLegacySuiteClass(name string) string {
	switch name {
	case "DES-CBC-SHA", "DES-CBC-MD5", "EDH-RSA-DES-CBC-SHA", "EDH-DSS-DES-CBC-SHA", "ADH-DES-CBC-SHA":
		return "DES"
	case "DES-CBC3-MD5", "RC2-CBC-MD5", "IDEA-CBC-MD5", "RC4-64-MD5":
		return "MD5"
	}
	for _, pre := range []struct{ prefix, class string }{
		{"EXP-", "EXPORT"}, {"EXP1024-", "EXPORT"},
		{"DH-RSA-", "static DH"}, {"DH-DSS-", "static DH"},
		{"ECDH-RSA-", "static ECDH"}, {"ECDH-ECDSA-", "static ECDH"},
		{"KRB5-", "Kerberos"},
	} {
		if strings.HasPrefix(name, pre.prefix) && len(name) > len(pre.prefix) {
			return pre.class
		}
	}
	return ""
}

// csForbidden are the classes a final list may never contain, in the
// order a suite is attributed to them.
var csForbidden = []struct {
	alias, why string
	has        func(*csSuite) bool
}{
	{"eNULL", "no encryption", func(s *csSuite) bool { return s.enc&csENULL != 0 }},
	{"aNULL", "anonymous, no authentication: open to MITM", func(s *csSuite) bool { return s.auth&csANULL != 0 }},
	{"RC4", "RC4 is broken", func(s *csSuite) bool { return s.enc&csRC4 != 0 }},
	{"MD5", "MD5 MAC", func(s *csSuite) bool { return s.mac&csMD5 != 0 }},
}
