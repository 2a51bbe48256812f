import { ApiProperty } from '@nestjs/swagger';

export class LoginDto {
  @ApiProperty({ example: 'alice', maxLength: 256 })
  username!: string;

  @ApiProperty({ example: 'correct-horse-battery-staple', maxLength: 1024 })
  password!: string;
}

export class SessionTokenDto {
  @ApiProperty({
    example: 'pss_Yz2D8C6mQ0b6l7f5Jx1N3pKq9VwR4tUe8sA0iHgLcZo',
    description: 'Send as `Authorization: Bearer <token>`; also set as the HttpOnly session cookie',
  })
  token!: string;

  @ApiProperty({ type: String, format: 'date-time', description: '12 hours after the login' })
  expiresAt!: string;
}
