/*
 * The lab's bare guest: what the nested VM runs when a scenario needs a guest that sees the
 * passed-through card and answers (or ignores) the ACPI power button, but no operating system.
 * Booted by QEMU's PVH loader (-kernel with an ELF note), it starts in 32-bit protected mode
 * with paging off, lists the PCI functions it finds on COM1 in the Linux tiny guest's format,
 * then, by "vmrun_guest=MODE" on its command line:
 *   off   powers off at once (ACPI S5), as the tiny guest's "poweroff -f" does;
 *   hang  ignores everything, power button included;
 *   acpi  waits for the power button (PM1 status, polled on a 20 Hz timer so that a waiting
 *         guest costs the lab nothing) and then powers off.
 * A Linux guest boots in one to two minutes nested under TCG; this one in about a second, and
 * the scenarios ask the same questions of both (tests/lab/tiny-guest).
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

/* What the PVH entry receives in %ebx (xen/include/public/arch-x86/hvm/start_info.h). */
struct hvm_start_info {
	u32 magic; /* 0x336ec578 */
	u32 version;
	u32 flags;
	u32 nr_modules;
	u64 modlist_paddr;
	u64 cmdline_paddr;
	u64 rsdp_paddr;
};
#define PVH_MAGIC 0x336ec578u

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* --- COM1 ------------------------------------------------------------------------------- */
#define COM1 0x3f8

static void putc_serial(char c)
{
	while (!(inb(COM1 + 5) & 0x20)) /* transmit holding register empty */
		;
	outb(COM1, (u8)c);
}

static void puts_serial(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			putc_serial('\r');
		putc_serial(*s);
	}
}

static void puthex(u32 v, int digits)
{
	static const char hex[] = "0123456789abcdef";

	while (digits-- > 0)
		putc_serial(hex[(v >> (4 * digits)) & 0xf]);
}

/* --- PCI configuration mechanism #1 ------------------------------------------------------ */
static u32 cfg_read(u32 bus, u32 dev, u32 fn, u32 off)
{
	outl(0xcf8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc));
	return inl(0xcfc);
}

static void cfg_write(u32 bus, u32 dev, u32 fn, u32 off, u32 v)
{
	outl(0xcf8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc));
	outl(0xcfc, v);
}

/* Bus by bus as the firmware numbered them, following bridges: the order Linux lists them
 * in is by address, and the scenarios only ask whether a function is there. */
static void scan_bus(u32 bus, int depth)
{
	for (u32 dev = 0; dev < 32; dev++) {
		u32 fns = 1;

		for (u32 fn = 0; fn < fns; fn++) {
			u32 id = cfg_read(bus, dev, fn, 0);

			if ((id & 0xffff) == 0xffff)
				continue;
			u32 hdr = cfg_read(bus, dev, fn, 0x0c) >> 16 & 0xff;

			if (fn == 0 && (hdr & 0x80))
				fns = 8;
			puts_serial("GUEST-PCI 0000:");
			puthex(bus, 2);
			putc_serial(':');
			puthex(dev, 2);
			putc_serial('.');
			puthex(fn, 1);
			putc_serial(' ');
			puthex(id & 0xffff, 4);
			putc_serial(':');
			puthex(id >> 16, 4);
			putc_serial('\n');
			if ((hdr & 0x7f) == 1 && depth < 8) { /* a bridge: what lies behind it */
				u32 secondary = cfg_read(bus, dev, fn, 0x18) >> 8 & 0xff;

				if (secondary > bus)
					scan_bus(secondary, depth + 1);
			}
		}
	}
}

/* --- ACPI PM1 (QEMU's ICH9 on q35, PIIX4 on pc) ------------------------------------------ */
static u16 pm_base(void)
{
	u32 id = cfg_read(0, 0x1f, 0, 0);

	if (id == 0x29188086u) { /* ICH9 LPC: PMBASE at 0x40, ACPI_CNTL at 0x44 */
		cfg_write(0, 0x1f, 0, 0x44, cfg_read(0, 0x1f, 0, 0x44) | 0x80);
		return (u16)(cfg_read(0, 0x1f, 0, 0x40) & 0xff80);
	}
	if (cfg_read(0, 1, 3, 0) == 0x71138086u) { /* PIIX4 PM: PMBASE at 0x40, PMREGMISC 0x80 */
		cfg_write(0, 1, 3, 0x80, cfg_read(0, 1, 3, 0x80) | 1);
		return (u16)(cfg_read(0, 1, 3, 0x40) & 0xffc0);
	}
	return 0;
}

#define PM1_STS 0
#define PM1_EN 2
#define PM1_CNT 4
#define PWRBTN (1u << 8)
#define SLP_EN (1u << 13)

static void power_off(u16 pm)
{
	puts_serial("GUEST-POWEROFF\n");
	if (pm)
		outw(pm + PM1_CNT, SLP_EN); /* SLP_TYP 0: QEMU's S5, soft off */
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* --- a 20 Hz tick to wake hlt: PIT channel 0 on IRQ 0, the PICs moved off the exceptions -- */
struct idt_ptr {
	u16 limit;
	u32 base;
} __attribute__((packed));

static u64 idt[256];
void tick(void);
__asm__(".text\n.globl tick\ntick:\n"
	"  push %eax\n  mov $0x20, %al\n  out %al, $0x20\n  pop %eax\n  iret\n");

static void start_tick(void)
{
	u16 cs;
	u32 handler = (u32)tick;
	struct idt_ptr ptr = { sizeof(idt) - 1, (u32)idt };

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (int i = 0; i < 256; i++) /* 32-bit interrupt gates, all to the tick */
		idt[i] = (handler & 0xffff) | (u64)cs << 16 | (u64)0x8e00 << 32 |
			 (u64)(handler >> 16) << 48;
	__asm__ volatile("lidt %0" : : "m"(ptr));
	outb(0x20, 0x11), outb(0xa0, 0x11); /* ICW1: edge, cascade, ICW4 */
	outb(0x21, 0x20), outb(0xa1, 0x28); /* vectors 0x20 and 0x28 */
	outb(0x21, 0x04), outb(0xa1, 0x02);
	outb(0x21, 0x01), outb(0xa1, 0x01);
	outb(0x21, 0xfe), outb(0xa1, 0xff); /* IRQ 0 only */
	outb(0x43, 0x34);                   /* channel 0, rate generator */
	outb(0x40, (u8)(59659 & 0xff));     /* 1193182 Hz / 20 */
	outb(0x40, (u8)(59659 >> 8));
}

static void wait_power_button(u16 pm)
{
	outw(pm + PM1_STS, PWRBTN); /* clear a press from before we listened */
	outw(pm + PM1_EN, inw(pm + PM1_EN) | PWRBTN);
	start_tick();
	while (!(inw(pm + PM1_STS) & PWRBTN))
		__asm__ volatile("sti; hlt; cli");
	outw(pm + PM1_STS, PWRBTN);
	puts_serial("GUEST-POWER-BUTTON\n");
}

/* --- the command line --------------------------------------------------------------------- */
static char mode_of(const struct hvm_start_info *si)
{
	static const char key[] = "vmrun_guest=";

	if (si->magic != PVH_MAGIC || !si->cmdline_paddr)
		return 'o';
	for (const char *s = (const char *)(u32)si->cmdline_paddr; *s; s++) {
		int i = 0;

		while (key[i] && s[i] == key[i])
			i++;
		if (!key[i])
			return s[i]; /* 'o'ff, 'h'ang, 'a'cpi */
	}
	return 'o';
}

void guest_main(const struct hvm_start_info *si);
void guest_main(const struct hvm_start_info *si)
{
	char mode = mode_of(si);
	u16 pm = pm_base();

	scan_bus(0, 0);
	puts_serial("GUEST-READY\n");
	if (mode == 'h')
		for (;;)
			__asm__ volatile("cli; hlt");
	if (mode == 'a') {
		if (!pm) {
			puts_serial("GUEST-ACPI none\n");
			power_off(pm);
		}
		puts_serial("GUEST-ACPI pm1 0x");
		puthex(pm, 4);
		putc_serial('\n');
		wait_power_button(pm);
	}
	power_off(pm);
}
