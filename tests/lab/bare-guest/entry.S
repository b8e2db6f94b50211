/* PVH entry: 32-bit protected mode, flat segments, paging and interrupts off, %ebx the
 * physical address of struct hvm_start_info. The note is how QEMU's loader finds the entry. */
	.section .note.pvh, "a", @note
	.balign 4
	.long 4                 /* name size: "Xen\0" */
	.long 4                 /* descriptor size */
	.long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start

	.text
	.globl _start
_start:
	cli
	mov $stack_top, %esp
	push %ebx
	call guest_main
1:	hlt
	jmp 1b

	.bss
	.balign 16
	.skip 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
