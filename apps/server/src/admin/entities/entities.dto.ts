import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class NewEntityDto {
  @ApiProperty({ enum: ['user', 'organization'], example: 'user' })
  kind!: string;

  @ApiProperty({ example: 'alice', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' })
  slug!: string;

  @ApiPropertyOptional({
    example: 'alice-password',
    minLength: 8,
    description: 'Users only; without one the user logs in with API tokens only',
  })
  password?: string;
}

export class EntityDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'alice' })
  slug!: string;

  @ApiProperty({ enum: ['user', 'organization'] })
  kind!: string;

  @ApiProperty({ example: false })
  isSiteAdmin!: boolean;

  @ApiProperty({ example: false })
  disabled!: boolean;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
}

export class MemberDto {
  @ApiProperty({ example: 'alice' })
  user!: string;

  @ApiProperty({ enum: ['member', 'admin'] })
  role!: string;
}

export class EntityDetailDto extends EntityDto {
  @ApiPropertyOptional({ type: [MemberDto], description: 'Organizations only' })
  members?: MemberDto[];
}

export class PasswordDto {
  @ApiProperty({ example: 'a-new-long-password', minLength: 8, maxLength: 1024 })
  password!: string;
}

export class MemberRoleDto {
  @ApiProperty({ enum: ['member', 'admin'], example: 'member' })
  role!: string;
}

export class MembershipDto {
  @ApiProperty({ example: 'acme' })
  organization!: string;

  @ApiProperty({ example: 'alice' })
  user!: string;

  @ApiProperty({ enum: ['member', 'admin'] })
  role!: string;
}

export class EntityPatchDto {
  @ApiProperty({
    example: true,
    description:
      'true: no logins, tokens stop working, open sessions end, its databases are suspended; false: enabled again',
  })
  disabled!: boolean;
}
