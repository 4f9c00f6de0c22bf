/* Every bound on what a snapshot can make its-tools allocate, scan or store,
 * in one place (issue 7). A number read from a file is never trusted: it is
 * checked against one of these before it sizes anything. Crossing a limit
 * gives one line naming the file, the offset and the limit ("... over the
 * limit of N"), except where a partial answer stays useful: then the rest
 * is counted, not stored, and the output says how many were left out.
 *
 * Each value is far above what a real VM produces (the reason is next to
 * it) and low enough that the worst input stays within a few hundred MiB.
 * Bounds that the formats themselves impose (a u8 length, an 8-bit Size
 * field) are listed too, so that the table is complete. */
#ifndef ITS_LIMITS_H
#define ITS_LIMITS_H

/* A limit's value inside a message literal. */
#define ITS_STR_(x)			#x
#define ITS_STR(x)			ITS_STR_(x)

/* ------------------------------------------------ QEMU migration streams
 * (spec: qemu-migration-stream.md) */

/* Counted strings (section idstrs, RAMBlock names, subsection names) carry
 * a u8 length (§2): 255 bytes is the format's own bound, nothing to
 * check. */
#define QEMU_COUNTED_STRING_MAX		255

/* CONFIGURATION machine name (a be32 length): QEMU's are ~10 bytes
 * ("virt-10.0"). */
#define MS_MAX_MACHINE_NAME		255u

/* configuration/capabilities count: QEMU 10.0 defines about 20. */
#define MS_MAX_CAPABILITIES		256u

/* RAMBlocks in the MEM_SIZE list: one per memory backend, DIMM and ROM; a
 * virt guest has ~10, and KVM's 32764 memslots (KVM_USER_MEM_SLOTS) are
 * shared by all of them. */
#define MS_MAX_BLOCKS			4096u

/* One RAMBlock's used_length: ARM's largest physical address space is 52
 * bits (FEAT_LPA), no guest RAM can be larger. */
#define MS_MAX_RAMBLOCK_BYTES		(1ULL << 52)

/* The RAM page index (8 bytes a present page, allocated in leaves of 512
 * pages only where the stream has pages) may grow to the file's size plus
 * this. A real stream sends every page at least once, each record costs 9
 * bytes or more of file, so its index stays under the file's size; only
 * pages scattered one per leaf by a forged stream can cross it. */
#define MS_INDEX_SLACK			(64u << 20)

/* vmdesc JSON: the 2-vCPU QEMU 10.0 sample's is 40 KB with 2948 JSON values
 * and 779 objects/arrays, 68 of them per vCPU; a 512-vCPU guest (QEMU
 * virt's max_cpus) would have ~40000. json-c spends ~800 bytes on an
 * object and ~70 on a number (60 MB of "{}," took 15 GB), so objects and
 * values are counted before parsing: a forged vmdesc then costs the parser
 * ~250 MiB at most. */
#define MS_MAX_VMDESC			(64u << 20)
#define MS_MAX_VMDESC_VALUES		(1u << 21)
#define MS_MAX_VMDESC_OBJECTS		(1u << 17)	/* objects + arrays */
#define MS_JSON_DEPTH			256		/* nesting, json-c */
#define VMSD_MAX_DEPTH			64		/* nested subsections */

/* vCPUs in the arm_gicv3 section: QEMU virt's max_cpus is 512. */
#define MS_MAX_VCPUS			4096u

/* arm_gicv3_its sections: virt has one ITS; --its-regs takes 64 too. */
#define MS_MAX_ITS			64u

/* Top-level records (sections, commands, EOF, vmdesc) listed by
 * --sections and searched by the repair: a stopped VM's stream has ~40, a
 * long live migration tens of thousands of PARTs. Records past the limit
 * are read as usual and counted, not kept (RAM page records are no
 * records: a stream of 10^7 pages needs no more than usual). */
#define MIGSTREAM_MAX_RECORDS		(1u << 20)
#define MIGSTREAM_MAX_WARNINGS		64u		/* the rest counted */

/* Scanning budgets (work, not memory): footer resynchronisation without a
 * vmdesc (§14.4), the search for the vmdesc from the end of the file, an
 * O_DIRECT writer's zero padding, and the search for a stream that starts
 * further on (file:...,offset=N). */
#define MS_RESYNC_WINDOW		(16u << 20)	/* per section */
#define MS_RESYNC_BUDGET		(1ULL << 30)	/* per stream */
#define MS_VMDESC_SCAN			(64u << 20)
#define MS_TRAILING_ZEROS		(64u << 10)
#define MS_OFFSET_SCAN			(64u << 10)	/* file:,offset=N */

/* ------------------------------------------------ ELF cores
 * (spec: guest-dumps.md) */

/* Program headers: one PT_LOAD per contiguous guest RAM block; with KVM
 * every block is a memslot (32764 at most). Kept as gmem regions. */
#define ELFCORE_MAX_PHNUM		(1u << 18)

/* PT_NOTE bytes, all segments together (libelf reads them into memory):
 * a vCPU's notes are ~10 KiB with SVE at its largest vector length, 512
 * vCPUs ~5 MiB. */
#define ELFCORE_MAX_NOTE_BYTES		(64u << 20)

/* ------------------------------------------------ ITS tables
 * (spec: kvm-its-abi.md §1.8) */

/* A table is (BASER.Size + 1) pages, Size is 8 bits (GITS_BASER_PAGES_MAX
 * 256): at most 16 MiB with 64 KiB pages, the format's own bound. */

/* EventIDs walked per ITT: VITS_TYPER_IDBITS = 16; a DTE Size above 15 is
 * walked for 2^16 events and flagged size_clamped. */
#define ITS_WALK_MAX_EVENT_BITS		16

/* Level-2 device table pages read per ITS (flagged l2_not_walked past it):
 * 16-bit DeviceIDs need 8 pages of 64 KiB (KVM) or 128 of 4 KiB (QEMU). */
#define ITS_WALK_MAX_L2_PAGES		4096

/* ITT slots read per ITS, over the ITTs it walks (ITTs several devices
 * share are read once): a maximal KVM ITS, 65536 devices with 2^16-event
 * ITTs (VITS_MAX_DEVID, VITS_MAX_EVENTID), reads exactly this many. Devices
 * past it are flagged itt_not_walked. */
#define ITS_WALK_MAX_ITT_SLOTS		(1ULL << 32)

/* Non-zero entries (and unreadable ranges) stored per ITS: zero slots are
 * counted, not stored. A KVM ITS holds at most 65536 DTEs and one ITE per
 * LPI (< 65536); 2^21 leaves room for stale and invalid entries while the
 * image stays under ~160 MiB (80 bytes a DTE). The walk fails past it. */
#define ITS_WALK_MAX_ENTRIES		(1u << 21)

/* ------------------------------------------------ findings */

/* Findings stored per problem code in each table kind of each ITS (the
 * collection table, the device table, the L2 pages, the ITTs): the rest
 * are counted, not stored, and the report says how many. */
#define FINDINGS_MAX_PER_PROBLEM	1000

/* Findings stored in all (288 bytes each, 18 MiB): the rest are counted. */
#define FINDINGS_MAX_STORED		(1u << 16)

#endif
