//go:build !purego

#include "textflag.h"

// step is one value of k for the 6×16 tile: two vectors of the weight
// micro-panel at bo(BX), each of the six row values at ao(AX) broadcast and
// multiplied into the accumulators Y0–Y11 (row r in Y2r and Y2r+1).
#define step(ao, bo) \
	VMOVUPS      bo(BX), Y12;     \
	VMOVUPS      bo+32(BX), Y13;  \
	VBROADCASTSS ao(AX), Y14;     \
	VBROADCASTSS ao+4(AX), Y15;   \
	VFMADD231PS  Y12, Y14, Y0;    \
	VFMADD231PS  Y13, Y14, Y1;    \
	VFMADD231PS  Y12, Y15, Y2;    \
	VFMADD231PS  Y13, Y15, Y3;    \
	VBROADCASTSS ao+8(AX), Y14;   \
	VBROADCASTSS ao+12(AX), Y15;  \
	VFMADD231PS  Y12, Y14, Y4;    \
	VFMADD231PS  Y13, Y14, Y5;    \
	VFMADD231PS  Y12, Y15, Y6;    \
	VFMADD231PS  Y13, Y15, Y7;    \
	VBROADCASTSS ao+16(AX), Y14;  \
	VBROADCASTSS ao+20(AX), Y15;  \
	VFMADD231PS  Y12, Y14, Y8;    \
	VFMADD231PS  Y13, Y14, Y9;    \
	VFMADD231PS  Y12, Y15, Y10;   \
	VFMADD231PS  Y13, Y15, Y11

// addRow adds the accumulators lo and hi to the 16 values at DI and moves
// DI on to the next row.
#define addRow(lo, hi) \
	VADDPS  (DI), lo, lo;   \
	VMOVUPS lo, (DI);       \
	VADDPS  32(DI), hi, hi; \
	VMOVUPS hi, 32(DI);     \
	ADDQ    DX, DI

// func kernel6x16(kb int, a, b, c *float32, ldc int)
TEXT ·kernel6x16(SB), NOSPLIT, $0-40
	MOVQ kb+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ CX, R8
	SHRQ $2, R8
	JZ   tail

loop4:
	step(0, 0)
	step(24, 64)
	step(48, 128)
	step(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	DECQ R8
	JNZ  loop4

tail:
	ANDQ $3, CX
	JZ   done

loop1:
	step(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  loop1

done:
	addRow(Y0, Y1)
	addRow(Y2, Y3)
	addRow(Y4, Y5)
	addRow(Y6, Y7)
	addRow(Y8, Y9)
	addRow(Y10, Y11)
	VZEROUPPER
	RET
